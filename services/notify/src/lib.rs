//! The notify service: turns the deadlines events that need a person (reminders, breaches,
//! escalations, unschedulable duties, overdue digests) and the requests events a party must
//! know of (supplement notices, extensions, replies, deliveries, what happens to a grant,
//! verification) into notifications for the right people, exactly once per recipient and
//! channel. Recipients come from its own copy of the directory, fed by the catalog's events.
//! Channels: the in-app inbox; email over SMTP and webhooks (Standard Webhooks), queued in
//! the same transaction and sent by [`delivery::Worker`] with retries and a dead letter; and
//! one bus message per organisation on `govshare.evt.notify.org.<org>` for its own systems.

pub mod channels;
pub mod delivery;
pub mod domain;
pub mod handlers;
pub mod notices;
pub mod store;

/// The SMTP test relay, shared with the system tests (one file, two crates).
#[cfg(test)]
#[path = "../../../tests/src/smtp.rs"]
mod test_smtp;

use std::sync::Arc;

use govshare_runtime::{
    Service,
    app::Call,
    async_trait,
    inbox::{ConsumerSpec, EventHandler},
    reply::ApiError,
};

/// The notify service as the shared runtime runs it.
pub struct App {
    ctx: govshare_runtime::Context,
}

#[async_trait]
impl govshare_runtime::App for App {
    const SERVICE: Service = Service::Notify;
    type Migrator = store::Migrator;

    fn new(ctx: govshare_runtime::Context) -> Self {
        Self { ctx }
    }

    /// Refuses to start on a webhook setting it cannot use: a typo in an allowed network must
    /// not silently open nothing, nor a bad key leave secrets unreadable.
    async fn init(&self) -> anyhow::Result<()> {
        let s = &self.ctx.settings.notify;
        channels::policy::WebhookPolicy::from_settings(s).map_err(anyhow::Error::msg)?;
        if channels::sealed::SecretKey::from_settings(s)?.is_none() {
            tracing::warn!("notify.secret_key is not set: webhooks cannot be registered");
        }
        if s.allow_http_webhooks {
            tracing::warn!("notify.allow_http_webhooks is on: webhooks may go over plain http (development only)");
        }
        Ok(())
    }

    async fn call(&self, call: Call) -> Result<serde_json::Value, ApiError> {
        let max = self.ctx.settings.notify.max_recipients_per_event;
        handlers::with_max_recipients(max, handlers::call(&self.ctx, call)).await
    }

    fn tasks(&self, stop: tokio_util::sync::CancellationToken) -> Vec<futures::future::BoxFuture<'static, ()>> {
        vec![Box::pin(delivery::Worker::new(self.ctx.clone(), Arc::default()).run(stop))]
    }

    fn consumers(&self) -> Vec<(ConsumerSpec, Arc<dyn EventHandler>)> {
        // Every handler's fan-out is bounded (docs/notify.md).
        let max = self.ctx.settings.notify.max_recipients_per_event;
        vec![
            (
                ConsumerSpec {
                    durable: "notify-catalog".into(),
                    stream: Service::Catalog.stream(),
                    filter_subject: Service::Catalog.event_subject("organisation.>"),
                    order: govshare_runtime::inbox::Order::Stream,
                },
                Arc::new(handlers::Bounded { inner: handlers::Directory, max }),
            ),
            (
                ConsumerSpec {
                    // Every deadlines event: the handler picks the ones that need a person.
                    // (An existing durable keeps the filter it was created with: see README.)
                    durable: "notify-deadlines".into(),
                    stream: Service::Deadlines.stream(),
                    filter_subject: Service::Deadlines.event_subjects(),
                    order: govshare_runtime::inbox::Order::PerSubject,
                },
                Arc::new(handlers::Bounded { inner: handlers::DutyEvents, max }),
            ),
            (
                ConsumerSpec {
                    // Every requests event: the handler records each request's parties and
                    // picks the events a party must hear of.
                    durable: "notify-requests".into(),
                    stream: Service::Requests.stream(),
                    filter_subject: Service::Requests.event_subjects(),
                    order: govshare_runtime::inbox::Order::PerSubject,
                },
                Arc::new(handlers::Bounded { inner: handlers::RequestEvents, max }),
            ),
            (
                ConsumerSpec {
                    durable: "notify-recall".into(),
                    stream: Service::Recall.stream(),
                    filter_subject: Service::Recall.event_subjects(),
                    order: govshare_runtime::inbox::Order::Stream,
                },
                Arc::new(handlers::Bounded { inner: handlers::RecallEvents, max }),
            ),
        ]
    }
}
