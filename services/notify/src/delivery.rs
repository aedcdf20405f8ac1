//! The delivery worker: sends queued emails and webhook calls, retries with exponential
//! backoff and jitter, and dead-letters a delivery after `notify.max_attempts` (or at once
//! when the receiver refuses it for good).
//!
//! Claiming is a lease, not a held lock: a short transaction moves a due delivery's
//! `next_attempt_at` forward by the lease and counts the attempt, then the send happens
//! outside any transaction (an HTTP call must not hold SQLite's one writer), then a second
//! short transaction records the outcome. A worker that dies mid-send leaves the lease to
//! expire and the delivery is tried again: at least once, and the receiver dedupes by the
//! delivery id (`webhook-id`, `Message-ID`).
//!
//! A webhook is checked against the address policy again at each send
//! ([`webhook::deliver_checked`]); a send the policy refuses is dead at once, with the reason.
//! Its secret is read sealed ([`sealed`]); one still stored in plain text (written before
//! encryption) is sealed in place on first use.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use govshare_runtime::{Context, EventMeta, Outgoing, bus, events::notify::DeliveryDead};
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio_util::sync::CancellationToken;

use crate::{
    channels::{
        email,
        policy::WebhookPolicy,
        sealed::{self, SecretKey},
        webhook,
    },
    store::{self, entities::delivery},
};

/// How long a claimed delivery is left alone before another worker may try it again.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);

pub struct Worker {
    pub ctx: Context,
    pub wake: Arc<tokio::sync::Notify>,
    /// Where webhooks may go (`notify.allow_http_webhooks`, `notify.webhook_allowed_networks`).
    pub policy: WebhookPolicy,
    /// `notify.secret_key`: opens the stored webhook secrets.
    pub key: Option<SecretKey>,
}

/// What a send came to.
enum Outcome {
    Sent,
    Retry(String),
    Dead(String),
}

impl Worker {
    /// The service checked both settings at start (`App::init`); should they be unusable here
    /// anyway, the strictest policy applies and sealed secrets stay unread.
    pub fn new(ctx: Context, wake: Arc<tokio::sync::Notify>) -> Self {
        let policy = WebhookPolicy::from_settings(&ctx.settings.notify).unwrap_or_else(|e| {
            tracing::error!(error = %e, "webhook policy unusable: only public https addresses");
            WebhookPolicy::default()
        });
        let key = SecretKey::from_settings(&ctx.settings.notify).unwrap_or_else(|e| {
            tracing::error!(error = %e, "notify.secret_key unusable: sealed webhook secrets cannot be read");
            None
        });
        Self { ctx, wake, policy, key }
    }

    pub async fn run(self, stop: CancellationToken) {
        let mailer = match email::Mailer::new(&self.ctx.settings.smtp) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "SMTP settings unusable: emails stay queued");
                None
            }
        };
        loop {
            let next = match self.round(mailer.as_ref()).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "delivery round failed; retrying");
                    None
                }
            };
            let clock = self.ctx.clock.clone();
            let until = async move {
                match next {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = until => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(self.ctx.settings.outbox.sweep_interval_ms.max(200))) => {}
            }
        }
    }

    /// Sends everything due; returns when the next delivery is due.
    pub async fn round(&self, mailer: Option<&email::Mailer>) -> Result<Option<DateTime<Utc>>, DbErr> {
        loop {
            let claimed = self.claim(32).await?;
            if claimed.is_empty() {
                break;
            }
            for d in claimed {
                let outcome = self.send(&d, mailer).await;
                self.record(&d, outcome).await?;
            }
        }
        Ok(delivery::Entity::find()
            .select_only()
            .column(delivery::Column::NextAttemptAt)
            .filter(delivery::Column::State.eq("pending"))
            .filter(delivery::Column::NextAttemptAt.is_not_null())
            .order_by_asc(delivery::Column::NextAttemptAt)
            .limit(1)
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(&self.ctx.db)
            .await?
            .flatten())
    }

    /// Leases up to `n` due deliveries, counting the attempt.
    async fn claim(&self, n: u64) -> Result<Vec<delivery::Model>, DbErr> {
        let now = self.ctx.clock.now();
        let tx = self.ctx.db.begin().await?;
        let mut q = delivery::Entity::find()
            .filter(delivery::Column::State.eq("pending"))
            .filter(delivery::Column::NextAttemptAt.lte(now))
            .order_by_asc(delivery::Column::NextAttemptAt)
            .limit(n);
        if govshare_runtime::store::is_postgres(&tx) {
            q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let mut claimed = Vec::new();
        for d in q.all(&tx).await? {
            let won = delivery::Entity::update_many()
                .col_expr(delivery::Column::NextAttemptAt, Expr::value(now + LEASE))
                .col_expr(delivery::Column::Attempts, Expr::value(d.attempts + 1))
                .filter(delivery::Column::Id.eq(&d.id))
                .filter(delivery::Column::Attempts.eq(d.attempts))
                .exec(&tx)
                .await?
                .rows_affected
                == 1;
            if won {
                claimed.push(delivery::Model { attempts: d.attempts + 1, ..d });
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn send(&self, d: &delivery::Model, mailer: Option<&email::Mailer>) -> Outcome {
        let timeout = Duration::from_millis(self.ctx.settings.notify.send_timeout_ms);
        match d.channel.as_str() {
            "email" => match mailer {
                None => Outcome::Retry("SMTP settings unusable".into()),
                Some(m) => match m.send(&d.target, &d.subject, &d.body, &d.id).await {
                    Ok(()) => Outcome::Sent,
                    Err(email::EmailError::Permanent(e)) => Outcome::Dead(e),
                    Err(e) => Outcome::Retry(e.to_string()),
                },
            },
            "webhook" => {
                let hook = match store::webhook(&self.ctx.db, &d.target).await {
                    Ok(Some(h)) => h,
                    Ok(None) => return Outcome::Dead("the organisation removed its webhook".into()),
                    Err(e) => return Outcome::Retry(e.to_string()),
                };
                let opened = match sealed::open(self.key.as_ref(), &hook.org, &hook.secret) {
                    Ok(o) => o,
                    Err(e) => return Outcome::Dead(format!("stored webhook secret unreadable: {e}")),
                };
                let Ok(secret) = webhook::Secret::parse(&opened.secret) else {
                    return Outcome::Dead("stored webhook secret unreadable".into());
                };
                if opened.legacy {
                    self.seal_legacy(&hook, &opened.secret).await;
                }
                let ts = self.ctx.clock.now().timestamp();
                let body = d.body.as_bytes();
                match webhook::deliver_checked(&self.policy, &hook.url, &secret, &d.id, ts, body, timeout).await {
                    Ok(()) => Outcome::Sent,
                    Err(webhook::DeliveryError::Permanent(e)) => Outcome::Dead(e),
                    Err(e) => Outcome::Retry(e.to_string()),
                }
            }
            other => Outcome::Dead(format!("unknown channel {other}")),
        }
    }

    /// Rewrites a secret stored in plain text (before encryption) sealed, if the key is set;
    /// only if the row still holds that value (a new registration meanwhile wins).
    async fn seal_legacy(&self, hook: &store::entities::webhook::Model, plain: &str) {
        use store::entities::webhook::{Column, Entity};
        let Some(key) = &self.key else { return };
        let written = Entity::update_many()
            .col_expr(Column::Secret, Expr::value(key.seal(&hook.org, plain)))
            .filter(Column::Org.eq(&hook.org))
            .filter(Column::Secret.eq(&hook.secret))
            .exec(&self.ctx.db)
            .await;
        match written {
            Ok(_) => tracing::info!(org = hook.org, "legacy plain webhook secret sealed"),
            Err(e) => tracing::warn!(org = hook.org, error = %e, "legacy webhook secret not sealed yet"),
        }
    }

    /// Records the outcome; a delivery that is dead goes to the dead-letter stream.
    async fn record(&self, d: &delivery::Model, outcome: Outcome) -> Result<(), DbErr> {
        let now = self.ctx.clock.now();
        let s = &self.ctx.settings.notify;
        let outcome = match outcome {
            Outcome::Retry(e) if d.attempts as u32 >= s.max_attempts => {
                Outcome::Dead(format!("{e} (after {} attempts)", d.attempts))
            }
            other => other,
        };
        let (state, next, error) = match &outcome {
            Outcome::Sent => ("sent", None, None),
            Outcome::Retry(e) => {
                let wait = webhook::backoff_random(
                    d.attempts as u32,
                    Duration::from_millis(s.backoff_base_ms),
                    Duration::from_millis(s.backoff_max_ms),
                );
                ("pending", Some(now + chrono::Duration::from_std(wait).unwrap_or(LEASE)), Some(e.clone()))
            }
            Outcome::Dead(e) => ("dead", None, Some(e.clone())),
        };
        let tx = self.ctx.db.begin().await?;
        delivery::Entity::update_many()
            .col_expr(delivery::Column::State, Expr::value(state))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(next))
            .col_expr(delivery::Column::LastError, Expr::value(error.clone()))
            .filter(delivery::Column::Id.eq(&d.id))
            .filter(delivery::Column::Attempts.eq(d.attempts))
            .exec(&tx)
            .await?;
        let mut out = Vec::new();
        if let Outcome::Dead(reason) = &outcome {
            tracing::warn!(delivery = d.id, channel = d.channel, reason, "delivery dead-lettered");
            let dead = DeliveryDead {
                delivery_id: d.id.clone(),
                channel: d.channel.clone(),
                org: d.org.clone(),
                target: d.target.clone(),
                about_event: d.source_event.clone(),
                attempts: d.attempts as u32,
                reason: reason.clone(),
                at: now,
            };
            let meta =
                EventMeta { acting_org: "notify".into(), correlation_id: d.source_event.clone(), ..Default::default() };
            let mut o = Outgoing::event(&dead, &meta, now);
            o.subject = bus::dlq_subject(bus::Service::Notify, &format!("notify-{}", d.channel));
            out.push(o);
        }
        self.ctx.commit(tx, &out).await?;
        if state == "sent" {
            tracing::info!(delivery = d.id, channel = d.channel, attempts = d.attempts, "delivered");
        }
        Ok(())
    }
}
