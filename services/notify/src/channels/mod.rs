//! Channels beyond the inbox. Email and webhook deliveries are queued in the `deliveries`
//! table in the same transaction as the notification (so nothing is lost), and sent by the
//! delivery worker (`crate::delivery`) with retries, backoff and a dead letter.

pub mod email;
pub mod policy;
pub mod sealed;
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

/// Whether an account with preferences `p` gets `message` by email, and where and in which
/// language: only if it chose the email channel and gave an address, and, when it prefers
/// digests, only for a digest.
pub fn email_for(
    p: &crate::store::entities::preference::Model,
    is_digest: bool,
) -> Option<(String, govshare_runtime::Lang)> {
    let wants = serde_json::from_str::<Vec<String>>(&p.channels).unwrap_or_default().iter().any(|c| c == "email");
    if !wants || (p.digest && !is_digest) {
        return None;
    }
    let lang = if p.lang == "en" { govshare_runtime::Lang::En } else { govshare_runtime::Lang::ZhCn };
    Some((p.email.clone()?, lang))
}

/// An email subject from a rendered message: its first line, cut at 60 characters.
pub fn subject_of(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= 60 { line.to_owned() } else { line.chars().take(59).chain(['…']).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs(channels: &str, digest: bool) -> crate::store::entities::preference::Model {
        crate::store::entities::preference::Model {
            org: "gongan".into(),
            account: "alice".into(),
            email: Some("alice@gongan.test".into()),
            channels: channels.into(),
            digest,
            lang: "en".into(),
            revision: 0,
        }
    }

    #[test]
    fn an_account_that_prefers_digests_gets_only_digests_by_email() {
        assert_eq!(
            email_for(&prefs(r#"["inbox","email"]"#, false), false).map(|e| e.0),
            Some("alice@gongan.test".into())
        );
        assert_eq!(email_for(&prefs(r#"["inbox","email"]"#, true), false), None, "a single notice stays in the inbox");
        assert!(email_for(&prefs(r#"["inbox","email"]"#, true), true).is_some(), "the digest goes out");
        assert_eq!(email_for(&prefs(r#"["inbox"]"#, false), true), None, "no email channel, no email");
    }

    #[test]
    fn a_subject_is_the_messages_first_clause() {
        assert_eq!(subject_of("【已逾期】答复共享申请 r1\n依据第21条"), "【已逾期】答复共享申请 r1");
        let long = "x".repeat(80);
        assert_eq!(subject_of(&long).chars().count(), 60);
        assert!(subject_of(&long).ends_with('…'));
    }
}
