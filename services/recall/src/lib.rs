//! The recall service: recall and destruction propagated to every holder of shared data, down
//! the lineage of derived entries, with a receipt from each (Art. 29). Its read models: the
//! catalog's entries and lineage, and the grants that received data (from deliveries); a
//! grant's end orders destruction by itself.

pub mod domain;
pub mod handlers;
pub mod issuer;
pub mod store;

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use govshare_runtime::{
    Service,
    app::Call,
    async_trait,
    inbox::{ConsumerSpec, EventHandler},
    reply::ApiError,
};

/// The recall service as the shared runtime runs it.
pub struct App {
    ctx: govshare_runtime::Context,
}

#[async_trait]
impl govshare_runtime::App for App {
    const SERVICE: Service = Service::Recall;
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
                    durable: "recall-catalog".into(),
                    stream: Service::Catalog.stream(),
                    filter_subject: Service::Catalog.event_subject("entry.>"),
                    order: govshare_runtime::inbox::Order::Stream,
                },
                Arc::new(handlers::CatalogEntries),
            ),
            (
                ConsumerSpec {
                    durable: "recall-requests".into(),
                    stream: Service::Requests.stream(),
                    filter_subject: Service::Requests.event_subject("grant.>"),
                    order: govshare_runtime::inbox::Order::Stream,
                },
                Arc::new(handlers::RequestEvents { receipt_days: self.ctx.settings.recall.receipt_working_days }),
            ),
        ]
    }

    /// Goes on with the recalls whose issue stopped part way (a crash, a failed publish).
    fn tasks(&self, stop: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        vec![Box::pin(issuer::Issuer::of(&self.ctx).run(stop))]
    }
}
