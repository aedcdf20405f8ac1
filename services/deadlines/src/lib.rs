//! The deadlines service: clocks every statutory duty that any service opens through the
//! duty contract (`govshare_runtime::duty`), and announces, each exactly once, when it is
//! scheduled, reminded, breached and escalated rung by rung. It knows nothing of requests
//! or recalls: only duties, counted in working days on the official calendar.

pub mod domain;
pub mod handlers;
pub mod scanner;
pub mod store;

use std::sync::Arc;

use futures::future::BoxFuture;
use govshare_runtime::{
    Service,
    app::Call,
    async_trait, bus,
    calendar::Calendar,
    inbox::{ConsumerSpec, EventHandler},
    reply::{ApiError, Text},
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::handlers::Clocking;

/// The deadlines service as the shared runtime runs it.
pub struct App {
    ctx: govshare_runtime::Context,
    /// The configured calendar; an unreadable calendar file stops the start (in `init`).
    clocking: Result<Arc<Clocking>, String>,
    /// Woken when this replica opens or moves a clock, so the scanner re-reads the next due.
    rescan: Arc<scanner::Rescan>,
    reprojection: Arc<Mutex<Option<Text>>>,
}

impl App {
    fn clocking(&self) -> Arc<Clocking> {
        self.clocking.clone().expect("init refuses to start without a calendar")
    }
}

#[async_trait]
impl govshare_runtime::App for App {
    const SERVICE: Service = Service::Deadlines;
    type Migrator = store::Migrator;

    fn new(ctx: govshare_runtime::Context) -> Self {
        let warn_from = domain::next_year::warning_from(ctx.settings.calendar.next_year_warning_from.as_deref());
        let clocking =
            Calendar::from_settings(&ctx.settings.calendar).map_err(|e| e.to_string()).and_then(|calendar| {
                Ok(Arc::new(Clocking {
                    calendar_version: calendar.version(),
                    calendar,
                    policy: domain::Policy::from_settings(&ctx.settings.deadlines),
                    next_year_warning_from: warn_from?,
                }))
            });
        Self { ctx, clocking, rescan: Arc::default(), reprojection: Arc::default() }
    }

    /// Loads the calendar and compares it with the one the clocks were counted with: added
    /// or corrected years make the scanner count every pending clock again, and say why.
    async fn init(&self) -> anyhow::Result<()> {
        let clocking = self.clocking.clone().map_err(|e| anyhow::anyhow!("working-day calendar: {e}"))?;
        let loaded = clocking.calendar.year_digests();
        let stored = store::stored_years(&self.ctx.db).await?;
        if stored != loaded {
            let added: Vec<_> = loaded.keys().filter(|y| !stored.contains_key(y)).map(i32::to_string).collect();
            let changed: Vec<_> = loaded
                .iter()
                .filter(|(y, d)| stored.get(y).is_some_and(|s| s != *d))
                .map(|(y, _)| y.to_string())
                .collect();
            let (added, changed) = (added.join(", "), changed.join(", "));
            tracing::info!(added, changed, "working-day calendar changed since the clocks were counted");
            store::store_years(&self.ctx.db, &loaded).await?;
            *self.reprojection.lock().await = Some(Text::new(
                format!("工作日历变更（新增：{added}；更正：{changed}）"),
                format!("working-day calendar changed (added: {added}; corrected: {changed})"),
            ));
        } else {
            // Same years, but a replica may have stopped half-way through re-projecting.
            *self.reprojection.lock().await =
                Some(Text::new("按当前工作日历重新计算", "counted again on the current working-day calendar"));
        }
        Ok(())
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
                order: govshare_runtime::inbox::Order::PerSubject,
            },
            Arc::new(handlers::DutyContract {
                clocking: self.clocking(),
                rescan: self.rescan.clone(),
                refusals: self.ctx.refusals.clone(),
            }),
        )]
    }

    fn tasks(&self, stop: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        let scanner = scanner::Scanner {
            ctx: self.ctx.clone(),
            clocking: self.clocking(),
            rescan: self.rescan.clone(),
            reprojection: self.reprojection.clone(),
        };
        vec![Box::pin(scanner.run(stop))]
    }
}
