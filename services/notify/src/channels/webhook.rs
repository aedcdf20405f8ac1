//! The webhook channel: signs a notification the Standard Webhooks way
//! (<https://www.standardwebhooks.com/>) and posts it, so a department's receiver can check it
//! with any of the spec's reference libraries; and it says whether a failed call is worth another
//! try and how long to wait before it.
//!
//! What is signed is `{webhook-id}.{webhook-timestamp}.{body}`, with HMAC-SHA256 under the
//! endpoint's secret (`whsec_` + base64 of the key); the id, the timestamp and the signature travel
//! as the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers. The id stays the same
//! on every retry, so the receiver can drop a copy it already has; the timestamp and the signature
//! are made afresh for each attempt, so the receiver can refuse a stale one (a replay).
//!
//! Every send goes through [`deliver_checked`]: it resolves the host itself, checks the URL and
//! every address against the [`WebhookPolicy`], and posts with a client that can connect only to
//! the addresses it checked (issue 12: no second lookup that DNS rebinding could answer
//! differently, and no proxy from the environment in between).
//!
//! Nothing here reads the clock, the database or the settings: the delivery worker
//! (`crate::delivery`) passes the time, the limits and the policy in, and decides what a
//! [`DeliveryError`] does to the queued delivery.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::policy::{Host, WebhookPolicy};

type HmacSha256 = Hmac<Sha256>;

/// How a secret is told apart from other strings (spec, "Secret serialization").
const SECRET_PREFIX: &str = "whsec_";
/// The spec's bounds for a symmetric key: "at least 24 bytes (192 bits, 512 maximum)".
const KEY_LEN: std::ops::RangeInclusive<usize> = 24..=64;
/// What [`Secret::generate`] draws: the size of the HMAC-SHA256 output, well inside the bounds.
const GENERATED_KEY_LEN: usize = 32;
/// The scheme tag of a symmetric (HMAC-SHA256) signature; `v1a` would be ed25519.
const SYMMETRIC: &str = "v1";

/// An endpoint's signing secret: the HMAC key shared with that one receiver.
///
/// It is stored and handed to the receiver in the `whsec_<base64>` form ([`fmt::Display`],
/// [`Secret::parse`]). `Debug` never shows it, so a secret in a logged struct stays hidden.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

/// Why a string is not a webhook secret. Nothing is signed with it: an endpoint offered with such
/// a secret is not registered, and a delivery whose stored secret fails here cannot be signed
/// and goes to the dead letter (no retry makes the secret readable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The `whsec_` prefix is missing.
    #[error("a webhook secret starts with `whsec_`")]
    MissingPrefix,
    /// What follows `whsec_` is not standard (padded) base64.
    #[error("a webhook secret is `whsec_` followed by standard base64")]
    NotBase64,
    /// The key is shorter than 24 or longer than 64 bytes.
    #[error("a webhook secret holds 24 to 64 bytes of key, this one holds {0}")]
    Length(usize),
}

impl Secret {
    /// A new random secret of 32 bytes, for an endpoint being registered.
    ///
    /// The bytes come from the thread-local CSPRNG (ChaCha, seeded from the operating system).
    pub fn generate() -> Secret {
        let key: [u8; GENERATED_KEY_LEN] = rand::random();
        Secret { key: key.to_vec() }
    }

    /// Reads a secret in its `whsec_<base64>` form, as [`fmt::Display`] writes it.
    ///
    /// The prefix is required (the reference libraries also take bare base64, but every secret
    /// this system hands out or stores has it, so a string without it is a mistake), and so is a
    /// key of 24 to 64 bytes, as the spec asks.
    pub fn parse(raw: &str) -> Result<Secret, SecretError> {
        let encoded = raw.strip_prefix(SECRET_PREFIX).ok_or(SecretError::MissingPrefix)?;
        let key = BASE64.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        if !KEY_LEN.contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Secret { key })
    }

    /// The `webhook-signature` header value for one attempt: `v1,<base64 of the HMAC-SHA256 of
    /// "{msg_id}.{timestamp}.{body}">`.
    ///
    /// `body` must be the exact bytes sent. `msg_id` must not contain a `.` (the spec's rule, so
    /// that the signed string splits one way only); delivery ids are UUIDs, which never do.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(msg_id, timestamp, body).finalize().into_bytes();
        format!("{SYMMETRIC},{}", BASE64.encode(tag))
    }

    /// Whether a received webhook is genuine and fresh, as a receiver checks it; the arguments
    /// are the raw `webhook-id`, `webhook-timestamp` and `webhook-signature` header values, the
    /// raw body, the receiver's clock and how far (either way) it lets a timestamp be from it.
    ///
    /// The signature header may hold several space-separated signatures (a sender rotating its
    /// secret signs with the old and the new one); it is enough that one `v1` signature matches.
    /// Signatures of other schemes (`v1a`) are skipped. Each comparison is the hmac crate's
    /// constant-time one, so the time taken says nothing about how close a forgery came.
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now_unix: i64,
        tolerance_secs: u64,
    ) -> bool {
        let Some(timestamp) = parse_timestamp(timestamp) else {
            return false;
        };
        if timestamp.abs_diff(now_unix) > tolerance_secs {
            return false;
        }
        let expected = self.mac(msg_id, timestamp, body);
        signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(scheme, _)| *scheme == SYMMETRIC)
            .filter_map(|(_, signature)| BASE64.decode(signature).ok())
            .any(|tag| expected.clone().verify_slice(&tag).is_ok())
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts a key of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// A `webhook-timestamp`: unix seconds, digits only (no sign, no fraction, no spaces).
fn parse_timestamp(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

/// The `whsec_<base64>` form, to store or to show the receiver once. It is the secret itself:
/// never log it.
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", BASE64.encode(&self.key))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Secret::parse(raw)
    }
}

/// Why a webhook was not delivered, and so what becomes of the delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// It may go through later: a network error, a timeout, or the receiver answered 408, 429
    /// or 5xx. The delivery is tried again after [`backoff`], with the same `webhook-id` and a
    /// fresh timestamp and signature, until the worker's attempts run out.
    #[error("webhook delivery failed: {0}")]
    Retryable(String),
    /// Trying again cannot help: the receiver refused the call (a 4xx other than 408 and 429),
    /// answered with a redirect (not followed; the endpoint's URL must be updated), or the URL or
    /// a header cannot even be sent. The delivery goes to the dead letter at once. A 410 Gone
    /// also means the receiver wants no more webhooks: its endpoint should be disabled.
    #[error("webhook delivery refused: {0}")]
    Permanent(String),
}

/// The HTTP client [`deliver`] expects. Build one when the worker starts and share it: it pools
/// connections.
///
/// - Redirects are not followed. The spec counts a 3xx as a failure whose cure is updating the
///   endpoint's URL, and following one would let a receiver bounce our signed POST to an address
///   nobody registered.
/// - TLS is rustls with ring, the provider async-nats, sqlx and lettre already use. reqwest is
///   compiled without a provider of its own (its default, aws-lc-rs, beside ring would leave
///   rustls with no default and async-nats's TLS setup would panic), so this installs ring as
///   the process's default provider if none is installed yet. Until some provider is installed,
///   building any reqwest client in the process panics, `reqwest::Client::new()` included.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    builder().build()
}

fn builder() -> reqwest::ClientBuilder {
    // An Err only says a provider is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("govshare-notify/", env!("CARGO_PKG_VERSION")))
}

/// A resolver that resolves nothing: a pinned client must never look a name up itself.
struct NoLookups;

impl reqwest::dns::Resolve for NoLookups {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let refused = format!("{} was not checked by the webhook policy", name.as_str());
        Box::pin(async move { Err(refused.into()) })
    }
}

/// Where `url` may be sent: the URL and every address its host resolves to pass `policy`.
/// Answers the client to send with: it connects only to those addresses, looks nothing up and
/// follows no redirect. A refusal is permanent; a failed lookup is worth another try.
pub async fn checked_client(policy: &WebhookPolicy, url: &str) -> Result<reqwest::Client, DeliveryError> {
    let refused = |r: super::policy::Refusal| DeliveryError::Permanent(format!("refused by the webhook policy: {r}"));
    let target = policy.check_url(url).map_err(refused)?;
    let builder = builder().dns_resolver(NoLookups);
    let builder = match &target.host {
        // Checked by check_url; nothing to look up or pin.
        Host::Address(_) => builder,
        Host::Name(name) => {
            let answers: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), target.port))
                .await
                .map_err(|e| DeliveryError::Retryable(format!("the webhook host does not resolve: {e}")))?
                .collect();
            let pinned = policy.check_addresses(&answers).map_err(refused)?;
            builder.resolve_to_addrs(name, &pinned)
        }
    };
    builder.build().map_err(|e| DeliveryError::Permanent(format!("no HTTP client: {}", e.without_url())))
}

/// [`deliver`] through a [`checked_client`]: what the delivery worker sends with.
pub async fn deliver_checked(
    policy: &WebhookPolicy,
    url: &str,
    secret: &Secret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let client = checked_client(policy, url).await?;
    deliver(&client, url, secret, msg_id, timestamp, body, timeout).await
}

/// Posts `body` (JSON) to `url`, signed with `secret` for the attempt made at `timestamp` (unix
/// seconds), and waits at most `timeout` for the whole exchange. A 2xx answer is a delivery.
///
/// `msg_id` is the delivery's id: the same on every attempt, so the receiver can drop a copy it
/// already has. `client` should come from [`client`] (no redirects, a TLS provider installed).
/// Error texts never contain the URL, which may carry a token of the receiver's.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: &Secret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let response = client
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", secret.sign(msg_id, timestamp, body))
        .body(body.to_vec())
        .send()
        .await
        .map_err(request_failed)?;
    answered(response.status().as_u16())
}

/// What the receiver's status code makes of the attempt (spec, "Delivery success and failure").
fn answered(status: u16) -> Result<(), DeliveryError> {
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let said = format!("the receiver answered {status} {reason}");
    let said = said.trim_end();
    match status {
        200..=299 => Ok(()),
        408 | 429 => Err(DeliveryError::Retryable(said.to_owned())),
        410 => Err(DeliveryError::Permanent(format!("{said}: it wants no more webhooks; disable the endpoint"))),
        300..=399 => Err(DeliveryError::Permanent(format!("{said}: redirects are not followed; update the URL"))),
        400..=499 => Err(DeliveryError::Permanent(said.to_owned())),
        // 5xx, and anything outside the classes above: the receiver's trouble, maybe passing.
        _ => Err(DeliveryError::Retryable(said.to_owned())),
    }
}

/// What a call that got no answer makes of the attempt.
fn request_failed(error: reqwest::Error) -> DeliveryError {
    let error = error.without_url();
    // A URL or header that cannot be sent, or a redirect limit: the same call fails the same way.
    let permanent = error.is_builder() || error.is_redirect();
    let timed_out = error.is_timeout();
    // reqwest's own text is terse ("error sending request"); the cause is down the chain.
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if timed_out && !text.contains("timed out") {
        text.push_str(" (timed out)");
    }
    if permanent { DeliveryError::Permanent(text) } else { DeliveryError::Retryable(text) }
}

/// How long to wait before retry number `attempt` (0 for the first retry): exponential,
/// `base * 2^attempt` capped at `max`, with *equal jitter*: the wait is drawn from
/// `[cap / 2, cap]`, where `jitter` (in `0..=1`, clamped) picks the point.
///
/// Why equal jitter and not full jitter (`[0, cap]`): full jitter minimises the total work when
/// many clients compete for one resource, but any wait can come out near zero, so a receiver
/// that is down can be hit again at once, even on a late attempt. Here the usual failure is a
/// receiver that is down for a while; equal jitter keeps at least half of the exponential wait,
/// so the schedule keeps its length (the spec suggests one spanning days), and still spreads the
/// retries of a burst that failed together over the other half, so they do not all come back in
/// the same second.
///
/// Pure: the random number is an argument. [`backoff_random`] draws it.
pub fn backoff(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let cap = 2u32.checked_pow(attempt).and_then(|factor| base.checked_mul(factor)).map_or(max, |d| d.min(max));
    // NaN counts as 0; the clamp keeps `mul_f64` from panicking on a negative factor.
    let jitter = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
    let floor = cap / 2;
    floor.saturating_add((cap - floor).mul_f64(jitter)).min(cap)
}

/// [`backoff`] with the jitter drawn at random.
pub fn backoff_random(attempt: u32, base: Duration, max: Duration) -> Duration {
    backoff(attempt, base, max, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::{
        body::Bytes,
        http::{HeaderMap, StatusCode},
        routing::post,
    };

    use super::*;

    const ID: &str = "0193a4c1-7d2e-7a10-9c55-2b1f0e6d4a21";
    const NOW: i64 = 1_764_000_000;
    const TOLERANCE: u64 = 300;
    const BODY: &[u8] = br#"{"type":"request.replied","data":{"request":"r1"}}"#;

    fn secret() -> Secret {
        Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("the spec's example secret")
    }

    // --- signing: interoperability with the reference libraries ---

    /// The vector of `testSignFunctionWorks` in the PHP library of the standard-webhooks
    /// repository. Only a signature computed by someone else proves interoperability: a round
    /// trip through our own `verify` would pass with the delimiter or the key decoding wrong.
    #[test]
    fn the_published_test_vector_signs_to_the_reference_signature() {
        let signature = secret().sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// The vector of `test_sign` in the Rust library of the same repository.
    #[test]
    fn the_rust_reference_librarys_vector_signs_to_its_signature() {
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let signature = secret.sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    // --- secrets ---

    #[test]
    fn a_generated_secret_survives_its_whsec_form_and_signs_the_same() {
        let secret = Secret::generate();
        let text = secret.to_string();
        assert!(text.starts_with("whsec_"));
        let again: Secret = text.parse().unwrap();
        assert_eq!(again.key.len(), 32);
        assert_eq!(again.sign(ID, NOW, BODY), secret.sign(ID, NOW, BODY));
    }

    #[test]
    fn two_generated_secrets_differ() {
        assert_ne!(Secret::generate().to_string(), Secret::generate().to_string());
    }

    #[test]
    fn a_secret_without_prefix_not_base64_or_of_the_wrong_size_is_refused() {
        assert_eq!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(), SecretError::MissingPrefix);
        assert_eq!(Secret::parse("whsec_not base64!").unwrap_err(), SecretError::NotBase64);
        let short = format!("whsec_{}", BASE64.encode([7u8; 16]));
        assert_eq!(Secret::parse(&short).unwrap_err(), SecretError::Length(16));
        let long = format!("whsec_{}", BASE64.encode([7u8; 65]));
        assert_eq!(Secret::parse(&long).unwrap_err(), SecretError::Length(65));
    }

    #[test]
    fn a_secret_is_never_shown_by_debug() {
        let secret = secret();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("MfKQ9r8G"), "{shown}");
    }

    // --- verification, as a receiver does it ---

    fn verifies(secret: &Secret, timestamp: &str, signatures: &str, body: &[u8], now: i64) -> bool {
        secret.verify(ID, timestamp, signatures, body, now, TOLERANCE)
    }

    #[test]
    fn a_good_signature_verifies() {
        let signature = secret().sign(ID, NOW, BODY);
        assert!(verifies(&secret(), &NOW.to_string(), &signature, BODY, NOW));
    }

    #[test]
    fn the_published_test_vector_verifies_as_received() {
        let ok = secret().verify(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            br#"{"test": 2432232314}"#,
            1_614_265_330,
            TOLERANCE,
        );
        assert!(ok);
    }

    #[test]
    fn a_tampered_body_is_rejected() {
        let signature = secret().sign(ID, NOW, BODY);
        let tampered = br#"{"type":"request.replied","data":{"request":"r2"}}"#;
        assert!(!verifies(&secret(), &NOW.to_string(), &signature, tampered, NOW));
    }

    #[test]
    fn a_signature_made_with_another_secret_is_rejected() {
        let signature = Secret::generate().sign(ID, NOW, BODY);
        assert!(!verifies(&secret(), &NOW.to_string(), &signature, BODY, NOW));
    }

    #[test]
    fn a_changed_id_or_timestamp_is_rejected() {
        let signature = secret().sign(ID, NOW, BODY);
        assert!(!secret().verify("another-id", &NOW.to_string(), &signature, BODY, NOW, TOLERANCE));
        assert!(!verifies(&secret(), &(NOW + 1).to_string(), &signature, BODY, NOW));
    }

    #[test]
    fn a_timestamp_older_or_newer_than_the_tolerance_is_rejected_and_one_at_its_edge_accepted() {
        let signature = secret().sign(ID, NOW, BODY);
        let ts = NOW.to_string();
        let tolerance = TOLERANCE as i64;
        assert!(!verifies(&secret(), &ts, &signature, BODY, NOW + tolerance + 1), "stale");
        assert!(!verifies(&secret(), &ts, &signature, BODY, NOW - tolerance - 1), "from the future");
        assert!(verifies(&secret(), &ts, &signature, BODY, NOW + tolerance));
        assert!(verifies(&secret(), &ts, &signature, BODY, NOW - tolerance));
    }

    #[test]
    fn a_malformed_timestamp_is_rejected() {
        let signature = secret().sign(ID, NOW, BODY);
        for ts in ["", "+1764000000", "1764000000.0", " 1764000000", "-1", "soon"] {
            assert!(!verifies(&secret(), ts, &signature, BODY, NOW), "{ts:?}");
        }
    }

    #[test]
    fn one_matching_signature_among_several_is_enough_as_during_a_secret_rotation() {
        let good = secret().sign(ID, NOW, BODY);
        let old = Secret::generate().sign(ID, NOW, BODY);
        let header = format!("{old} v1a,bm9wZQ== {good} v1,not-base64");
        assert!(verifies(&secret(), &NOW.to_string(), &header, BODY, NOW));
        assert!(!verifies(&secret(), &NOW.to_string(), &format!("{old} v1,bm9wZQ=="), BODY, NOW));
    }

    #[test]
    fn a_good_signature_under_another_scheme_tag_is_not_taken() {
        let good = secret().sign(ID, NOW, BODY);
        let retagged = good.replacen("v1,", "v1a,", 1);
        assert!(!verifies(&secret(), &NOW.to_string(), &retagged, BODY, NOW));
    }

    // --- backoff ---

    const BASE: Duration = Duration::from_secs(5);
    const MAX: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn the_backoff_doubles_with_each_attempt() {
        let waits: Vec<_> = (0..5).map(|a| backoff(a, BASE, MAX, 1.0).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80]);
    }

    #[test]
    fn the_backoff_is_capped_at_max_even_for_absurd_attempts() {
        assert_eq!(backoff(20, BASE, MAX, 1.0), MAX);
        assert_eq!(backoff(40, BASE, MAX, 1.0), MAX, "2^40 * 5s overflows no Duration");
        assert_eq!(backoff(u32::MAX, BASE, MAX, 1.0), MAX);
        assert_eq!(backoff(u32::MAX, BASE, Duration::MAX, 1.0), Duration::MAX);
        assert_eq!(backoff(u32::MAX, BASE, MAX, 0.0), MAX / 2);
    }

    #[test]
    fn equal_jitter_keeps_the_wait_between_half_the_cap_and_the_cap() {
        let cap = Duration::from_secs(40);
        assert_eq!(backoff(3, BASE, MAX, 0.0), cap / 2);
        assert_eq!(backoff(3, BASE, MAX, 0.5), cap * 3 / 4);
        assert_eq!(backoff(3, BASE, MAX, 1.0), cap);
        for jitter in [-1.0, 2.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let wait = backoff(3, BASE, MAX, jitter);
            assert!(wait >= cap / 2 && wait <= cap, "{jitter}: {wait:?}");
        }
    }

    #[test]
    fn a_random_backoff_stays_within_its_jitter_bounds() {
        for attempt in 0..30 {
            let cap = backoff(attempt, BASE, MAX, 1.0);
            for _ in 0..20 {
                let wait = backoff_random(attempt, BASE, MAX);
                assert!(wait >= cap / 2 && wait <= cap, "attempt {attempt}: {wait:?} outside [{:?}, {cap:?}]", cap / 2);
            }
        }
    }

    // --- status codes ---

    #[test]
    fn a_2xx_is_delivered_408_429_and_5xx_are_retried_and_other_refusals_are_final() {
        for ok in [200, 202, 204] {
            assert_eq!(answered(ok), Ok(()), "{ok}");
        }
        for retry in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(answered(retry), Err(DeliveryError::Retryable(_))), "{retry}");
        }
        for permanent in [301, 302, 307, 400, 401, 403, 404, 410, 413, 422] {
            assert!(matches!(answered(permanent), Err(DeliveryError::Permanent(_))), "{permanent}");
        }
    }

    // --- deliver, against a real HTTP receiver ---

    #[derive(Debug, Clone)]
    struct Received {
        headers: HeaderMap,
        body: Bytes,
    }

    /// An HTTP server on a free port of 127.0.0.1 that records every request and answers `status`
    /// (or never answers, with `None`). Stopped when dropped.
    struct Receiver {
        url: String,
        received: Arc<Mutex<Vec<Received>>>,
        server: tokio::task::JoinHandle<()>,
    }

    impl Receiver {
        async fn start(status: Option<StatusCode>) -> Receiver {
            let received = Arc::new(Mutex::new(Vec::new()));
            let log = received.clone();
            let app = axum::Router::new().route(
                "/hook",
                post(move |headers: HeaderMap, body: Bytes| async move {
                    log.lock().unwrap().push(Received { headers, body });
                    match status {
                        Some(status) => status,
                        None => std::future::pending().await,
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/hook", listener.local_addr().unwrap());
            let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Receiver { url, received, server }
        }

        fn received(&self) -> Vec<Received> {
            self.received.lock().unwrap().clone()
        }
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            self.server.abort();
        }
    }

    async fn deliver_to(url: &str, secret: &Secret, timeout: Duration) -> Result<(), DeliveryError> {
        deliver(&client().unwrap(), url, secret, ID, NOW, BODY, timeout).await
    }

    fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers.get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
    }

    #[tokio::test]
    async fn a_delivered_webhook_carries_the_three_headers_and_the_receiver_verifies_it_with_the_shared_secret() {
        let secret = Secret::generate();
        let receiver = Receiver::start(Some(StatusCode::OK)).await;

        deliver_to(&receiver.url, &secret, Duration::from_secs(5)).await.unwrap();

        let [request] = receiver.received().try_into().expect("exactly one request");
        let headers = &request.headers;
        assert_eq!(header(headers, "content-type"), "application/json");
        assert_eq!(header(headers, "webhook-id"), ID);
        assert_eq!(header(headers, "webhook-timestamp"), NOW.to_string());
        assert_eq!(&request.body[..], BODY);
        // The receiver holds the secret as it was handed over, in its whsec_ form.
        let receivers_copy = Secret::parse(&secret.to_string()).unwrap();
        assert!(receivers_copy.verify(
            header(headers, "webhook-id"),
            header(headers, "webhook-timestamp"),
            header(headers, "webhook-signature"),
            &request.body,
            NOW + 2,
            TOLERANCE,
        ));
        assert!(!Secret::generate().verify(
            header(headers, "webhook-id"),
            header(headers, "webhook-timestamp"),
            header(headers, "webhook-signature"),
            &request.body,
            NOW + 2,
            TOLERANCE,
        ));
    }

    #[tokio::test]
    async fn a_receiver_answering_503_is_tried_again() {
        let receiver = Receiver::start(Some(StatusCode::SERVICE_UNAVAILABLE)).await;
        let outcome = deliver_to(&receiver.url, &secret(), Duration::from_secs(5)).await;
        assert!(matches!(&outcome, Err(DeliveryError::Retryable(e)) if e.contains("503")), "{outcome:?}");
        assert_eq!(receiver.received().len(), 1);
    }

    #[tokio::test]
    async fn a_receiver_answering_410_gone_is_not_tried_again() {
        let receiver = Receiver::start(Some(StatusCode::GONE)).await;
        let outcome = deliver_to(&receiver.url, &secret(), Duration::from_secs(5)).await;
        assert!(matches!(&outcome, Err(DeliveryError::Permanent(e)) if e.contains("410")), "{outcome:?}");
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_not_tried_again() {
        let receiver = Receiver::start(Some(StatusCode::PERMANENT_REDIRECT)).await;
        let outcome = deliver_to(&receiver.url, &secret(), Duration::from_secs(5)).await;
        assert!(matches!(&outcome, Err(DeliveryError::Permanent(e)) if e.contains("308")), "{outcome:?}");
        assert_eq!(receiver.received().len(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_receiver_is_tried_again() {
        // A port that was free a moment ago and has nobody listening now.
        let port = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/hook?token=receivers-own");
        let outcome = deliver_to(&url, &secret(), Duration::from_secs(5)).await;
        assert!(
            matches!(&outcome, Err(DeliveryError::Retryable(e)) if e.contains("Connection refused")),
            "{outcome:?}"
        );
        assert!(!format!("{outcome:?}").contains("receivers-own"), "the URL may hold a token: {outcome:?}");
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_times_out_and_is_tried_again() {
        let receiver = Receiver::start(None).await;
        let outcome = deliver_to(&receiver.url, &secret(), Duration::from_millis(200)).await;
        assert!(matches!(&outcome, Err(DeliveryError::Retryable(e)) if e.contains("timed out")), "{outcome:?}");
    }

    // --- deliver_checked: the address policy at each send ---

    fn loopback_allowed() -> WebhookPolicy {
        WebhookPolicy { allow_http: true, allowed: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()] }
    }

    async fn deliver_checked_to(policy: &WebhookPolicy, url: &str) -> Result<(), DeliveryError> {
        deliver_checked(policy, url, &secret(), ID, NOW, BODY, Duration::from_secs(5)).await
    }

    #[tokio::test]
    async fn a_send_to_loopback_is_refused_for_good_and_nothing_is_posted() {
        // Given a receiver on 127.0.0.1 and the production policy
        let receiver = Receiver::start(Some(StatusCode::OK)).await;
        let production = WebhookPolicy { allow_http: true, ..Default::default() };

        // When a delivery is sent to it
        let outcome = deliver_checked_to(&production, &receiver.url).await;

        // Then it is refused for good, and the receiver saw nothing
        assert!(matches!(&outcome, Err(DeliveryError::Permanent(e)) if e.contains("loopback")), "{outcome:?}");
        assert!(receiver.received().is_empty());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_unless_loopback_is_allowed() {
        let receiver = Receiver::start(Some(StatusCode::OK)).await;
        let by_name = receiver.url.replace("127.0.0.1", "localhost");
        let production = WebhookPolicy { allow_http: true, ..Default::default() };
        let outcome = deliver_checked_to(&production, &by_name).await;
        assert!(matches!(&outcome, Err(DeliveryError::Permanent(e)) if e.contains("webhook policy")), "{outcome:?}");
        assert!(receiver.received().is_empty());

        deliver_checked_to(&loopback_allowed(), &by_name).await.expect("pinned to the checked address");
        assert_eq!(receiver.received().len(), 1);
    }

    #[tokio::test]
    async fn plain_http_and_other_schemes_are_refused_at_send_too() {
        let https_only = WebhookPolicy { allow_http: false, ..loopback_allowed() };
        let outcome = deliver_checked_to(&https_only, "http://127.0.0.1:9/hook").await;
        assert!(matches!(&outcome, Err(DeliveryError::Permanent(e)) if e.contains("http")), "{outcome:?}");
        let outcome = deliver_checked_to(&loopback_allowed(), "httpx://127.0.0.1/").await;
        assert!(matches!(outcome, Err(DeliveryError::Permanent(_))), "{outcome:?}");
    }

    #[tokio::test]
    async fn a_pinned_client_looks_up_no_other_name() {
        // A client checked for one name has no resolver for any other: a redirect or a second
        // lookup could not leave the checked addresses.
        let receiver = Receiver::start(Some(StatusCode::OK)).await;
        let client =
            checked_client(&loopback_allowed(), &receiver.url.replace("127.0.0.1", "localhost")).await.unwrap();
        let other = receiver.url.replace("127.0.0.1", "ip6-localhost.invalid");
        let outcome = deliver(&client, &other, &secret(), ID, NOW, BODY, Duration::from_secs(5)).await;
        assert!(matches!(&outcome, Err(DeliveryError::Retryable(e)) if e.contains("not checked")), "{outcome:?}");
        assert!(receiver.received().is_empty());
    }

    #[tokio::test]
    async fn a_url_that_cannot_be_called_is_not_tried_again() {
        let outcome = deliver_to("not a url", &secret(), Duration::from_secs(5)).await;
        assert!(matches!(outcome, Err(DeliveryError::Permanent(_))), "{outcome:?}");
    }
}
