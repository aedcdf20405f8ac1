//! Channels beyond the inbox. Email and webhook deliveries are queued in the `deliveries`
//! table in the same transaction as the notification (so nothing is lost), and sent by the
//! delivery worker (`crate::delivery`) with retries, backoff and a dead letter.

pub mod email;
pub mod webhook;

use chrono::{DateTime, Utc};

use crate::store::entities::delivery;

/// A delivery to queue: tried at once, then retried by the worker.
pub fn queued(
    channel: &str,
    org: &str,
    target: &str,
    source_event: &str,
    subject: String,
    body: String,
    now: DateTime<Utc>,
) -> delivery::Model {
    delivery::Model {
        id: uuid::Uuid::now_v7().to_string(),
        channel: channel.to_owned(),
        org: org.to_owned(),
        target: target.to_owned(),
        source_event: source_event.to_owned(),
        subject,
        body,
        attempts: 0,
        next_attempt_at: Some(now),
        state: "pending".into(),
        last_error: None,
        created_at: now,
    }
}

/// An email subject from a rendered message: its first line, cut at 60 characters.
pub fn subject_of(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= 60 { line.to_owned() } else { line.chars().take(59).chain(['…']).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_the_messages_first_clause() {
        assert_eq!(subject_of("【已逾期】答复共享申请 r1\n依据第21条"), "【已逾期】答复共享申请 r1");
        let long = "x".repeat(80);
        assert_eq!(subject_of(&long).chars().count(), 60);
        assert!(subject_of(&long).ends_with('…'));
    }
}
