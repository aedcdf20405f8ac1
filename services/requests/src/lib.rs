//! The requests service: the sharing workflow from request to grant (Arts 20-29). It knows
//! the catalog only through the catalog's events (its own read model), and starts every
//! statutory clock through the duty contract.

pub mod disputes;
pub mod domain;
pub mod handlers;
pub mod returns;
pub mod store;

use std::sync::Arc;

use govshare_runtime::{
    Service,
    app::Call,
    async_trait,
    inbox::{ConsumerSpec, EventHandler},
    reply::ApiError,
};

/// The requests service as the shared runtime runs it.
pub struct App {
    ctx: govshare_runtime::Context,
}

#[async_trait]
impl govshare_runtime::App for App {
    const SERVICE: Service = Service::Requests;
    type Migrator = store::Migrator;

    fn new(ctx: govshare_runtime::Context) -> Self {
        Self { ctx }
    }

    async fn call(&self, call: Call) -> Result<serde_json::Value, ApiError> {
        handlers::call(&self.ctx, call).await
    }

    fn consumers(&self) -> Vec<(ConsumerSpec, Arc<dyn EventHandler>)> {
        vec![
            (
                ConsumerSpec {
                    durable: "requests-catalog".into(),
                    stream: Service::Catalog.stream(),
                    filter_subject: Service::Catalog.event_subjects(),
                    order: govshare_runtime::inbox::Order::Stream,
                },
                Arc::new(handlers::CatalogEvents),
            ),
            (
                ConsumerSpec {
                    durable: "requests-deadlines".into(),
                    stream: Service::Deadlines.stream(),
                    filter_subject:
                        <govshare_runtime::duty::DutyBreached as govshare_runtime::envelope::EventPayload>::nats_subject(
                        ),
                    order: govshare_runtime::inbox::Order::Stream,
                },
                Arc::new(handlers::DeadlineEvents { settings: self.ctx.settings.requests.clone() }),
            ),
        ]
    }
}
