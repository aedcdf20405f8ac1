//! The catalog service: the directory (regions, departments, sharing authorities) and the
//! government data catalog (Arts 13-19). Other services learn about both only from its
//! events, and keep their own read models.

pub mod domain;
pub mod handlers;
pub mod store;

use govshare_shared::{Service, app::Call, async_trait, reply::ApiError};

/// The catalog service as the shared runtime runs it.
pub struct App {
    ctx: govshare_shared::Context,
}

#[async_trait]
impl govshare_shared::App for App {
    const SERVICE: Service = Service::Catalog;
    type Migrator = store::Migrator;

    fn new(ctx: govshare_shared::Context) -> Self {
        Self { ctx }
    }

    async fn call(&self, call: Call) -> Result<serde_json::Value, ApiError> {
        handlers::call(&self.ctx, call).await
    }
}
