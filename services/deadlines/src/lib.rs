//! The deadlines service: clocks every statutory duty that any service opens through the
//! duty contract, and announces when each falls due and when it is breached, exactly once.
//! It knows nothing of requests or recalls: only duties.

pub mod domain;
pub mod handlers;
pub mod scanner;
pub mod store;

use std::sync::Arc;

use futures::future::BoxFuture;
use govshare_shared::{
    Service,
    app::Call,
    async_trait, bus,
    inbox::{ConsumerSpec, EventHandler},
    reply::ApiError,
};
use tokio_util::sync::CancellationToken;

/// The deadlines service as the shared runtime runs it.
pub struct App {
    ctx: govshare_shared::Context,
    /// Woken when this replica opens or moves a clock, so the scanner re-reads the next due.
    rescan: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl govshare_shared::App for App {
    const SERVICE: Service = Service::Deadlines;
    type Migrator = store::Migrator;

    fn new(ctx: govshare_shared::Context) -> Self {
        Self { ctx, rescan: Arc::default() }
    }

    async fn call(&self, call: Call) -> Result<serde_json::Value, ApiError> {
        handlers::call(&self.ctx, call).await
    }

    fn consumers(&self) -> Vec<(ConsumerSpec, Arc<dyn EventHandler>)> {
        vec![(
            ConsumerSpec {
                durable: "deadlines-duties".into(),
                stream: bus::DUTY_STREAM.into(),
                filter_subject: bus::DUTY_SUBJECTS.into(),
            },
            Arc::new(handlers::DutyContract { calendar: domain::calendar(), rescan: self.rescan.clone() }),
        )]
    }

    fn tasks(&self, stop: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        let scanner = scanner::Scanner { ctx: self.ctx.clone(), rescan: self.rescan.clone() };
        vec![Box::pin(scanner.run(stop))]
    }
}
