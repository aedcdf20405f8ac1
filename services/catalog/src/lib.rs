//! The catalog service: the directory (regions, departments, sharing authorities and their
//! roles) and the government data catalog with its review, publication, versions and update
//! duties (Arts 13-19). Other services learn about both only from its events.

pub mod domain;
pub mod handlers;
pub mod store;

use std::sync::Arc;

use govshare_runtime::{Service, app::Call, async_trait, reply::ApiError};

/// The catalog service as the shared runtime runs it.
pub struct App {
    catalog: handlers::Catalog,
    load_error: Option<String>,
}

/// The region table from `catalog.regions_file`, or the shipped one.
pub fn load_regions(file: Option<&str>) -> Result<domain::Regions, String> {
    match file {
        None => Ok(domain::Regions::shipped()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("region file {path}: {e}"))?;
            domain::Regions::parse(&text).map_err(|e| format!("region file {path}: {e}"))
        }
    }
}

#[async_trait]
impl govshare_runtime::App for App {
    const SERVICE: Service = Service::Catalog;
    type Migrator = store::Migrator;

    fn new(ctx: govshare_runtime::Context) -> Self {
        let (regions, load_error) = match load_regions(ctx.settings.catalog.regions_file.as_deref()) {
            Ok(r) => (r, None),
            Err(e) => (domain::Regions::default(), Some(e)),
        };
        Self { catalog: handlers::Catalog { ctx, regions: Arc::new(regions) }, load_error }
    }

    /// Refuses to start on a bad region file, then brings the region table up to it.
    async fn init(&self) -> anyhow::Result<()> {
        if let Some(e) = &self.load_error {
            anyhow::bail!("{e}");
        }
        store::load_regions(&self.catalog.ctx.db, &self.catalog.regions).await?;
        Ok(())
    }

    async fn call(&self, call: Call) -> Result<serde_json::Value, ApiError> {
        handlers::call(&self.catalog, call).await
    }
}
