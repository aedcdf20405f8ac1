//! Streams: the runtime half of the bus. The naming scheme itself is part of the contract
//! ([`govshare_contract::bus`], re-exported here).

use std::time::Duration;

use async_nats::jetstream::{self, stream};

pub use govshare_contract::bus::*;

/// Stream settings shared by every govshare stream.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// JetStream drops a re-sent message whose `Nats-Msg-Id` it saw within this window.
    /// The inbox catches anything older, so this only saves work.
    pub duplicate_window: Duration,
    /// How long events are kept. Consumers track their position durably, so this must only
    /// outlast the longest outage a consumer may have.
    pub max_age: Duration,
    /// Copies kept by a clustered JetStream (1 on a single server).
    pub replicas: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            duplicate_window: Duration::from_secs(2 * 60 * 60),
            max_age: Duration::from_secs(30 * 24 * 60 * 60),
            replicas: 1,
        }
    }
}

/// Creates (or leaves as they are) every stream of the platform. Idempotent: each service
/// calls it at start, so the start order of services does not matter.
pub async fn ensure_streams(js: &jetstream::Context, settings: &StreamSettings) -> Result<(), async_nats::Error> {
    let mut wanted: Vec<(String, String)> = Service::ALL.iter().map(|s| (s.stream(), s.event_subjects())).collect();
    wanted.push((DUTY_STREAM.to_owned(), DUTY_SUBJECTS.to_owned()));
    wanted.push((DLQ_STREAM.to_owned(), format!("{PREFIX}.dlq.>")));
    for (name, subjects) in wanted {
        js.get_or_create_stream(stream::Config {
            name,
            subjects: vec![subjects],
            storage: stream::StorageType::File,
            duplicate_window: settings.duplicate_window,
            max_age: settings.max_age,
            num_replicas: settings.replicas,
            // Nobody edits history: messages cannot be deleted or purged through the API.
            // (Operators remove a whole stream only by deleting it, which is an audited act.)
            deny_delete: true,
            deny_purge: true,
            ..Default::default()
        })
        .await?;
    }
    Ok(())
}
