//! Fires due clocks: reads the head of the due index, breaches what is due in bounded
//! batches (each one short transaction), then sleeps on the clock until the next due time.
//!
//! Exactly once, even with several replicas: each batch is claimed with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, and a breach is written by a conditional update
//! (`breached_at IS NULL`) in the same transaction as its event in the outbox. A replica
//! that loses the race updates nothing and emits nothing. After downtime, every missed due
//! fires, oldest first, a batch at a time.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use govshare_shared::{Context, EventMeta, Outgoing};
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio_util::sync::CancellationToken;

use crate::{
    domain,
    store::{self, entities::clock},
};

pub struct Scanner {
    pub ctx: Context,
    pub rescan: Arc<tokio::sync::Notify>,
}

impl Scanner {
    pub async fn run(self, stop: CancellationToken) {
        let rescan_every = Duration::from_millis(self.ctx.settings.deadlines.rescan_interval_ms);
        loop {
            let next = match self.fire_all_due().await {
                Ok(next) => next,
                Err(err) => {
                    tracing::warn!(error = %err, "deadline scan failed; retrying");
                    None
                }
            };
            let clock = self.ctx.clock.clone();
            let until_due = async move {
                match next {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = until_due => {}
                _ = self.rescan.notified() => {}
                _ = tokio::time::sleep(rescan_every) => {}
            }
        }
    }

    /// Fires every due clock, batch by batch; returns the next due time.
    pub async fn fire_all_due(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        let batch = self.ctx.settings.deadlines.batch_size;
        loop {
            let fired = self.fire_batch(batch).await?;
            if fired < batch as usize {
                break;
            }
        }
        clock::Entity::find()
            .select_only()
            .column(clock::Column::DueAt)
            .filter(pending())
            .order_by_asc(clock::Column::DueAt)
            .limit(1)
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(&self.ctx.db)
            .await
            .map(Option::flatten)
    }

    async fn fire_batch(&self, batch: u64) -> Result<usize, DbErr> {
        let now = self.ctx.clock.now();
        let tx = self.ctx.db.begin().await?;
        let mut q = clock::Entity::find()
            .filter(pending())
            .filter(clock::Column::DueAt.lte(now))
            .order_by_asc(clock::Column::DueAt)
            .limit(batch);
        if govshare_shared::store::is_postgres(&tx) {
            q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = q.all(&tx).await?;
        let claimed = rows.len();
        let mut outgoing = Vec::new();
        for row in rows {
            let c = store::to_domain(row)?;
            let Some((_, event)) = domain::breach(&c, now) else { continue };
            let won = clock::Entity::update_many()
                .col_expr(clock::Column::BreachedAt, Expr::value(now))
                .filter(clock::Column::DutyId.eq(&c.duty_id))
                .filter(clock::Column::BreachedAt.is_null())
                .exec(&tx)
                .await?;
            if won.rows_affected == 1 {
                let meta = EventMeta {
                    acting_org: "deadlines".into(),
                    correlation_id: c.duty_id.clone(),
                    ..Default::default()
                };
                outgoing.push(Outgoing::event(&event, &meta, now));
            }
        }
        if !outgoing.is_empty() {
            tracing::info!(breached = outgoing.len(), "duties breached");
        }
        self.ctx.commit(tx, &outgoing).await?;
        Ok(claimed)
    }
}

/// Clocks that can still breach: the condition of the partial due index.
fn pending() -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(clock::Column::State.eq("open"))
        .add(clock::Column::BreachedAt.is_null())
        .add(clock::Column::DueAt.is_not_null())
}
