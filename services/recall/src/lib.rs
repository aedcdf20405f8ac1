//! The recall service: recall and destruction propagated to every holder of shared data.
//! For now it keeps its own read model of the catalog (the entries a recall can name) and
//! answers queries on it; recall orders and receipts build on this.

pub mod domain;
pub mod handlers;
pub mod store;

use std::sync::Arc;

use govshare_shared::{
    Service,
    app::Call,
    async_trait,
    inbox::{ConsumerSpec, EventHandler},
    reply::ApiError,
};

/// The recall service as the shared runtime runs it.
pub struct App {
    ctx: govshare_shared::Context,
}

#[async_trait]
impl govshare_shared::App for App {
    const SERVICE: Service = Service::Recall;
    type Migrator = store::Migrator;

    fn new(ctx: govshare_shared::Context) -> Self {
        Self { ctx }
    }

    async fn call(&self, call: Call) -> Result<serde_json::Value, ApiError> {
        handlers::call(&self.ctx, call).await
    }

    fn consumers(&self) -> Vec<(ConsumerSpec, Arc<dyn EventHandler>)> {
        vec![(
            ConsumerSpec {
                durable: "recall-catalog".into(),
                stream: Service::Catalog.stream(),
                filter_subject: Service::Catalog.event_subject("entry.>"),
            },
            Arc::new(handlers::CatalogEntries),
        )]
    }
}
