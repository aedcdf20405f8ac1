//! One shape for every service: an [`App`] says what it answers and what it consumes; this
//! module connects it to its database, the bus and the probes, and runs it until stopped.
//!
//! The same `App` runs as its own binary ([`run`]), inside the all-in-one `govshare up`, and
//! inside tests ([`start`]), with the clock and the stop signal passed in, never global.

use std::{net::SocketAddr, panic::AssertUnwindSafe, sync::Arc, time::Duration};

use async_nats::jetstream;
use futures::{FutureExt, StreamExt, future::BoxFuture};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use sea_orm_migration::MigratorTrait;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    bus::{self, CallKind, CallSubject, Service},
    clock::{SharedClock, SystemClock},
    config::Settings,
    envelope::EventMeta,
    inbox::{self, ConsumerSpec, EventHandler, Inbox},
    outbox::{self, Outgoing, Relay, Waker},
    reply::{self, ApiError, ErrorCode, Lang},
};

/// What every part of a service shares.
#[derive(Debug, Clone)]
pub struct Context {
    pub service: Service,
    pub db: DatabaseConnection,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub clock: SharedClock,
    pub settings: Settings,
    pub waker: Waker,
    /// What this service refused on its own trust checks (see [`crate::trust`]).
    pub refusals: crate::trust::Refusals,
    /// Messages its consumers could not handle, by kind (see [`crate::inbox::Failures`]).
    pub failures: crate::inbox::Failures,
    /// Its worker tasks, and which have died (see [`crate::health`]).
    pub liveness: crate::health::Liveness,
}

impl Context {
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.db.begin().await
    }

    /// Records `outgoing` in the outbox, commits, and wakes the relay: the end of every
    /// state change. The events are sent if and only if the state change is kept.
    /// A command carrying an idempotency key records it here too, in the same transaction.
    pub async fn commit(&self, tx: DatabaseTransaction, outgoing: &[Outgoing]) -> Result<(), DbErr> {
        if let Some(key) = crate::idempotency::current() {
            crate::idempotency::record(&tx, &key, self.clock.now()).await?;
        }
        outbox::record(&tx, outgoing).await?;
        tx.commit().await?;
        if !outgoing.is_empty() {
            self.waker.wake();
        }
        Ok(())
    }
}

/// A command or query, parsed as far as the shared layer can: subject, size, JSON, version.
#[derive(Debug)]
pub struct Call {
    pub kind: CallKind,
    /// The acting organisation, from the subject.
    pub org: String,
    pub name: String,
    /// The body: a JSON object of at most `calls.max_payload_bytes`, whose `version` this
    /// service speaks. Read it into its typed call with [`Call::parse`].
    pub body: serde_json::Value,
    pub lang: Lang,
    /// Copied onto every event the call causes.
    pub meta: EventMeta,
}

impl Call {
    /// The error for a name this service does not know.
    pub fn unknown(&self) -> ApiError {
        crate::calls::unknown_operation(&self.name)
    }

    /// The typed command or query, or every problem of the body at once (see [`crate::calls`]).
    pub fn parse<S: govshare_contract::calls::CallSet>(&self) -> Result<S, ApiError> {
        crate::calls::parse::<S>(self.kind, &self.name, &self.body)
    }
}

/// A service.
#[async_trait::async_trait]
pub trait App: Send + Sync + Sized + 'static {
    const SERVICE: Service;
    type Migrator: MigratorTrait;

    fn new(ctx: Context) -> Self;

    /// Work before the service takes calls or events (e.g. loading reference data).
    async fn init(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Answers one command or query. An `Err` must leave the store unchanged.
    async fn call(&self, call: Call) -> Result<serde_json::Value, ApiError>;

    /// The events this service consumes, each with its handler.
    fn consumers(&self) -> Vec<(ConsumerSpec, Arc<dyn EventHandler>)> {
        Vec::new()
    }

    /// Long-running work of its own (e.g. the deadline scanner), stopped by `stop`.
    fn tasks(&self, _stop: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        Vec::new()
    }
}

/// A started service.
#[derive(Debug)]
pub struct Running {
    pub service: Service,
    pub health_addr: SocketAddr,
    pub ctx: Context,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops taking work, finishes what is in hand, drains NATS.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
        let _ = self.ctx.nats.drain().await;
        tracing::info!(service = self.service.name(), "stopped");
    }

    /// Stops at once, like a killed process: nothing in hand is finished.
    pub async fn kill(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        self.stop.cancel();
    }
}

/// Connects a service's store and NATS client as `settings` say, and runs the migrations.
pub async fn connect<A: App>(settings: &Settings, clock: SharedClock) -> anyhow::Result<Context> {
    let db =
        crate::store::connect_and_migrate::<A::Migrator>(&settings.database.url, settings.database.max_connections)
            .await
            .map_err(|e| anyhow::anyhow!("database {}: {e}", crate::config::redact_url(&settings.database.url)))?;
    let identity = crate::trust::Identity::Service(A::SERVICE);
    let nats = crate::trust::connect(&settings.nats, &identity, &format!("govshare-{}", A::SERVICE.name())).await?;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(settings.nats.ack_timeout_ms))
        .build(nats.clone());
    bus::ensure_streams(&js, &settings.streams.to_bus()).await.map_err(|e| anyhow::anyhow!("streams: {e}"))?;
    Ok(Context {
        service: A::SERVICE,
        db,
        nats,
        js,
        clock,
        settings: settings.clone(),
        waker: Waker::default(),
        refusals: Default::default(),
        failures: Default::default(),
        liveness: Default::default(),
    })
}

/// Starts a service: relay, consumers, call responders, probes and its own tasks. When it
/// returns, every durable consumer exists and calls are being answered.
///
/// Each worker task runs supervised ([`crate::health::Liveness`]): one that ends or panics
/// while the service is not stopping turns `/healthz` and `/readyz` unhealthy, naming it.
pub async fn start<A: App>(settings: Settings, clock: SharedClock) -> anyhow::Result<Running> {
    let ctx = connect::<A>(&settings, clock.clone()).await?;
    let stop = CancellationToken::new();
    let app = Arc::new(A::new(ctx.clone()));
    app.init().await?;
    let mut tasks = JoinSet::new();

    let relay = Relay {
        db: ctx.db.clone(),
        js: ctx.js.clone(),
        waker: ctx.waker.clone(),
        settings: settings.outbox.clone(),
        clock: clock.clone(),
    };
    let live = ctx.liveness.clone();
    tasks.spawn(live.supervise("outbox-relay", relay.run(stop.clone())));

    for (spec, handler) in app.consumers() {
        inbox::durable_consumer(&ctx.js, &spec, &settings.inbox)
            .await
            .map_err(|e| anyhow::anyhow!("consumer {}: {e}", spec.durable))?;
        let inbox = Inbox {
            db: ctx.db.clone(),
            consumer: spec.durable.clone(),
            handler,
            waker: ctx.waker.clone(),
            clock: clock.clone(),
            service: A::SERVICE,
            refusals: ctx.refusals.clone(),
        };
        let name = format!("consumer {}", spec.durable);
        let consumer = inbox::run_consumer(
            ctx.js.clone(),
            spec,
            inbox,
            settings.inbox.clone(),
            stop.clone(),
            ctx.failures.clone(),
        );
        tasks.spawn(live.supervise(name, consumer));
    }

    for kind in ["cmd", "qry"] {
        let subject = format!("{}.{kind}.{}.>", bus::PREFIX, A::SERVICE.name());
        let sub = ctx
            .nats
            .queue_subscribe(subject, A::SERVICE.name().to_owned())
            .await
            .map_err(|e| anyhow::anyhow!("subscribe: {e}"))?;
        tasks.spawn(live.supervise(format!("responder {kind}"), respond(app.clone(), ctx.clone(), sub, stop.clone())));
    }
    // Make sure the server has the subscriptions before anyone is told we are up.
    ctx.nats.flush().await.map_err(|e| anyhow::anyhow!("nats flush: {e}"))?;

    // A service's own tasks (deadlines: the scanner; notify: the delivery worker) by position.
    for (i, task) in app.tasks(stop.clone()).into_iter().enumerate() {
        tasks.spawn(live.supervise(format!("{} task {i}", A::SERVICE.name()), task));
    }

    let (health_addr, health) = crate::health::serve(
        &settings.http.addr,
        A::SERVICE.name(),
        ctx.db.clone(),
        ctx.nats.clone(),
        ctx.liveness.clone(),
        stop.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("health server on {}: {e}", settings.http.addr))?;
    tasks.spawn(async move {
        let _ = health.await;
    });

    tracing::info!(service = A::SERVICE.name(), %health_addr, "started");
    Ok(Running { service: A::SERVICE, health_addr, ctx, stop, tasks })
}

/// Answers calls until `stop`, then finishes the calls in hand.
async fn respond<A: App>(app: Arc<A>, ctx: Context, mut sub: async_nats::Subscriber, stop: CancellationToken) {
    let mut in_hand = JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => break,
            m = sub.next() => match m { Some(m) => m, None => break },
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (app, ctx) = (app.clone(), ctx.clone());
        in_hand.spawn(async move {
            answer(&*app, &ctx, message).await;
            drop(permit);
        });
        while in_hand.try_join_next().is_some() {}
    }
    let _ = sub.unsubscribe().await;
    while in_hand.join_next().await.is_some() {}
}

async fn answer<A: App>(app: &A, ctx: &Context, message: async_nats::Message) {
    let Some(reply_to) = message.reply.clone() else {
        return;
    };
    let header = |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
    let lang = Lang::from_header(header(bus::LANG_HEADER).as_deref());
    let correlation_id = header(bus::CORRELATION_HEADER).unwrap_or_else(|| Uuid::now_v7().to_string());
    let span = tracing::info_span!("call", subject = %message.subject, correlation_id = %correlation_id);
    crate::telemetry::set_parent(&span, header("traceparent").as_deref(), header("tracestate").as_deref());
    let result = async {
        let Some(subject) = CallSubject::parse(&message.subject) else {
            return Err(ApiError::new(ErrorCode::UnknownOperation));
        };
        // The bus lets an organisation publish only in its own name and read only its own
        // inbox; check it again, so a bus without authorization is not a hole: an answer goes
        // only to the acting organisation's inbox.
        if !crate::trust::reply_allowed(&subject.org, &reply_to) {
            ctx.refusals.count(A::SERVICE, crate::trust::Refused::ForeignReply);
            tracing::warn!(org = %subject.org, reply = %reply_to, "call refused: the reply subject is not the acting organisation's inbox");
            return Err(ApiError::with_text(
                ErrorCode::Forbidden,
                format!("调用必须在 {} 自己的收件箱前缀（_INBOX.{}.）下等待答复", subject.org, subject.org),
                format!("a call in the name of {} must take its answer on that organisation's inbox prefix (_INBOX.{}.)", subject.org, subject.org),
            ));
        }
        let body = crate::calls::read_body(&message.payload, ctx.settings.calls.max_payload_bytes)?;
        let (traceparent, tracestate) = crate::telemetry::current_trace_context();
        let call = Call {
            kind: subject.kind,
            org: subject.org.clone(),
            name: subject.name,
            body,
            lang,
            meta: EventMeta { acting_org: subject.org, correlation_id, traceparent, tracestate },
        };
        let key = header(crate::idempotency::HEADER)
            .filter(|_| call.kind == CallKind::Command)
            .map(|key| crate::idempotency::CallKey { org: call.org.clone(), key, call: call.name.clone() });
        let Some(key) = key else { return app.call(call).await };
        if let Some(earlier) = crate::idempotency::lookup(&ctx.db, &key).await? {
            return earlier;
        }
        let result = crate::idempotency::CURRENT.scope(Some(key.clone()), app.call(call)).await;
        match &result {
            Ok(response) => crate::idempotency::store_response(&ctx.db, &key, response).await?,
            // A twin that committed first makes this one fail on the key: answer as it did.
            Err(e) if e.code == ErrorCode::Unavailable => {
                if let Some(earlier) = crate::idempotency::lookup(&ctx.db, &key).await? {
                    return earlier;
                }
            }
            Err(_) => {}
        }
        result
    }
    .instrument(span.clone());
    // A call handler that panics is answered (nothing was kept: its transaction was dropped
    // while unwinding), and the responder goes on with the next call.
    let result = match AssertUnwindSafe(result).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let why = crate::inbox::panic_message(&*panic);
            span.in_scope(|| tracing::error!(panic = %why, "call handler panicked"));
            Err(panicked())
        }
    };
    if let Err(err) = &result {
        if err.code == ErrorCode::Forbidden {
            ctx.refusals.count(A::SERVICE, crate::trust::Refused::Forbidden);
        }
        span.in_scope(|| tracing::info!(error = %err, "call refused"));
    }
    let body = bounded(reply::render(&result, lang), ctx.settings.calls.max_answer_bytes, lang);
    if let Err(err) = ctx.nats.publish(reply_to, body.into()).await {
        tracing::warn!(error = %err, "could not send the reply");
    }
}

/// A rendered answer, or `payload_too_large` in its place when it is over `max_bytes`: NATS
/// would refuse to send it (over `max_payload`) and the caller would only time out. Lists are
/// paged ([`crate::page`]); this catches whatever a page or a single answer still makes too big.
fn bounded(body: Vec<u8>, max_bytes: usize, lang: Lang) -> Vec<u8> {
    if body.len() <= max_bytes {
        return body;
    }
    tracing::warn!(bytes = body.len(), max_bytes, "answer too large to send; answered payload_too_large");
    let err = ApiError::with_text(
        ErrorCode::PayloadTooLarge,
        format!("答复 {} 字节，超过上限 {max_bytes} 字节；请用更小的 limit 分页读取", body.len()),
        format!("the answer is {} bytes, over the limit of {max_bytes}; ask for a smaller page (limit)", body.len()),
    );
    reply::render(&Err(err), lang)
}

/// The answer to a call whose handler panicked: nothing was changed.
fn panicked() -> ApiError {
    ApiError::with_text(
        ErrorCode::Unavailable,
        "服务处理此调用时发生内部错误，未做任何更改",
        "the service failed on this call (an internal error); nothing was changed",
    )
}

/// Runs a service as its own process: settings from file and environment, the system
/// clock, until SIGTERM or ctrl-c.
pub async fn run<A: App>() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    crate::telemetry::init(&settings.telemetry, &format!("govshare-{}", A::SERVICE.name()));
    tracing::info!(settings = ?settings.redacted(), "starting govshare-{}", A::SERVICE.name());
    let running = start::<A>(settings, Arc::new(SystemClock)).await?;
    shutdown_signal().await;
    running.shutdown().await;
    crate::telemetry::shutdown();
    Ok(())
}

/// Starts a service with the given settings and clock and runs it until `stop`.
pub async fn serve<A: App>(settings: Settings, clock: SharedClock, stop: CancellationToken) -> anyhow::Result<()> {
    let running = start::<A>(settings, clock).await?;
    stop.cancelled().await;
    running.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM (Kubernetes) or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_over_the_limit_is_answered_payload_too_large_instead() {
        let big = reply::render(&Ok(serde_json::json!({"rows": "x".repeat(2_000)})), Lang::En);
        assert_eq!(bounded(big.clone(), 4_096, Lang::En), big);
        let refused: reply::WireReply = serde_json::from_slice(&bounded(big, 1_000, Lang::En)).unwrap();
        let err = refused.error.unwrap();
        assert_eq!(err.code, ErrorCode::PayloadTooLarge);
        assert!(err.message.contains("over the limit of 1000"), "{}", err.message);
    }
}
