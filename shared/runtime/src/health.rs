//! `/healthz` (the process is alive and every worker task still runs) and `/readyz` (that,
//! and its database answers and its NATS connection is up), for Kubernetes probes.
//!
//! A service is more than its HTTP server: the outbox relay, each consumer, the call
//! responders and a service's own tasks (the deadlines scanner, the notify delivery worker)
//! run in the background. If one of them ends or panics while the service is not stopping,
//! the process looks alive but does part of its work no more (every statutory clock stops
//! when the duty consumer dies). So each task is run under [`Liveness::supervise`], and the
//! probes turn `503` naming the task that died: Kubernetes restarts the pod.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

/// The worker tasks of one service, each with a flag that is lowered when the task ends,
/// panics or is aborted.
#[derive(Debug, Clone, Default)]
pub struct Liveness(Arc<Mutex<Vec<Task>>>);

/// A worker task's name and its alive flag.
type Task = (String, Arc<AtomicBool>);

/// Holds a task's flag up while it lives: dropped (the future finished, unwound from a panic,
/// or was aborted), it lowers the flag.
#[derive(Debug)]
pub struct Alive(Arc<AtomicBool>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Liveness {
    /// Registers a task named `name` as alive until the returned guard is dropped.
    pub fn register(&self, name: impl Into<String>) -> Alive {
        let flag = Arc::new(AtomicBool::new(true));
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push((name.into(), flag.clone()));
        Alive(flag)
    }

    /// Runs `task` as the registered task `name`: its flag falls when the future is gone,
    /// however it went.
    pub fn supervise<F>(&self, name: impl Into<String>, task: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let alive = self.register(name);
        async move {
            let _alive = alive;
            task.await;
        }
    }

    /// The tasks that are no longer running, in the order they were registered.
    pub fn dead(&self) -> Vec<String> {
        let tasks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        tasks.iter().filter(|(_, alive)| !alive.load(Ordering::SeqCst)).map(|(name, _)| name.clone()).collect()
    }
}

#[derive(Clone)]
struct Probe {
    service: &'static str,
    db: DatabaseConnection,
    nats: async_nats::Client,
    liveness: Liveness,
    stop: CancellationToken,
}

impl Probe {
    /// The tasks that died while the service was not stopping (on shutdown they all end).
    fn died(&self) -> Vec<String> {
        if self.stop.is_cancelled() { Vec::new() } else { self.liveness.dead() }
    }
}

/// Binds `addr` and serves the probes until `stop`. Returns the bound address.
pub async fn serve(
    addr: &str,
    service: &'static str,
    db: DatabaseConnection,
    nats: async_nats::Client,
    liveness: Liveness,
    stop: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new().route("/healthz", get(healthy)).route("/readyz", get(ready)).with_state(Probe {
        service,
        db,
        nats,
        liveness,
        stop: stop.clone(),
    });
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
    });
    Ok((bound, handle))
}

async fn healthy(State(p): State<Probe>) -> (StatusCode, Json<serde_json::Value>) {
    let died = p.died();
    let status = if died.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({"service": p.service, "healthy": died.is_empty(), "dead_tasks": died})))
}

async fn ready(State(p): State<Probe>) -> (StatusCode, Json<serde_json::Value>) {
    let db = p.db.ping().await.is_ok();
    let nats = matches!(p.nats.connection_state(), async_nats::connection::State::Connected);
    let died = p.died();
    let status = if db && nats && died.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({"service": p.service, "database": db, "nats": nats, "dead_tasks": died})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_ends_panics_or_is_aborted_is_reported_dead_and_a_running_one_is_not() {
        // Given four supervised tasks
        let liveness = Liveness::default();
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let ends = tokio::spawn(liveness.supervise("relay", async {}));
        let panics = tokio::spawn(liveness.supervise("deadlines-duties", async { panic!("Local time out of range") }));
        let runs = tokio::spawn(liveness.supervise("scanner", async move {
            let _ = wait.await;
        }));
        let aborted = tokio::spawn(liveness.supervise("delivery", std::future::pending()));

        // When one ends, one panics, one is aborted
        ends.await.unwrap();
        assert!(panics.await.unwrap_err().is_panic());
        aborted.abort();
        let _ = aborted.await;

        // Then those three are dead, and the one still running is not
        assert_eq!(liveness.dead(), ["relay", "deadlines-duties", "delivery"]);
        release.send(()).unwrap();
        runs.await.unwrap();
        assert_eq!(liveness.dead(), ["relay", "deadlines-duties", "scanner", "delivery"]);
    }
}
