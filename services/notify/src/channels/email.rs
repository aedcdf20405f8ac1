//! The email channel: hands one plain-text mail to the configured SMTP relay and says whether
//! a failed delivery is worth another try. Queueing, retries and the dead letter belong to the
//! delivery worker (`crate::delivery`); this module sends once and classifies.
//!
//! Every mail carries a `Message-ID` derived from the delivery's id, so a retry after an
//! uncertain outcome (the relay took the mail but its answer was lost) arrives as a duplicate
//! that a receiver can drop, not as a second notice.
//!
//! Mails are 7-bit clean whatever the language: the subject is an RFC 2047 encoded word and the
//! body quoted-printable or base64 (UTF-8), so any relay takes them, with or without 8BITMIME.

use std::time::Duration;

use govshare_runtime::config::{SmtpSettings, SmtpTls};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, SinglePart},
    transport::smtp::{authentication::Credentials, response::Category},
};

/// Why a mail was not delivered, and so what happens to the delivery.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The relay could not be reached, did not answer in time, or answered 4xx (busy, greylisted,
    /// mailbox full for now), or refused our credentials (5.3.x: a settings problem, not the
    /// message's). The delivery is tried again later.
    #[error("email not delivered, will be retried: {0}")]
    Retryable(String),
    /// The relay refused the mail for good (5xx, e.g. 550 unknown mailbox), or the recipient is
    /// not an email address. Retrying cannot help: the delivery is dead-lettered.
    #[error("email refused, will not be retried: {0}")]
    Permanent(String),
    /// The `smtp` settings cannot make a mailer (only [`Mailer::new`] returns this). Nothing was
    /// sent; fix the settings and restart.
    #[error("email channel misconfigured, nothing sent: {0}")]
    Config(String),
}

impl EmailError {
    /// Whether the delivery should be tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

/// Sends notifications by email through one SMTP relay. Each [`Mailer::send`] opens its own
/// connection (no pool: deliveries are few, and a broken connection cannot spoil the next one).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: never print it.
        f.debug_struct("Mailer").field("from", &self.from.to_string()).field("timeout", &self.timeout).finish()
    }
}

impl Mailer {
    /// A mailer for the relay in `settings`: plain for `tls = "none"`, STARTTLS required for
    /// `"starttls"` (a relay that does not offer it is sent nothing), SMTPS for `"tls"`;
    /// certificates are checked against the system's CA store. Credentials are used when both
    /// `username` and `password` are set (over `"none"` they travel in clear).
    pub fn new(settings: &SmtpSettings) -> Result<Self, EmailError> {
        let config = |what: String| EmailError::Config(what);
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| config(format!("smtp.from {:?} is not a mailbox: {e}", settings.from)))?;
        if settings.timeout_ms == 0 {
            return Err(config("smtp.timeout_ms must be above 0".into()));
        }
        let timeout = Duration::from_millis(settings.timeout_ms);
        let builder = match settings.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                .map_err(|e| config(format!("STARTTLS to {}: {e}", settings.host)))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .map_err(|e| config(format!("TLS to {}: {e}", settings.host)))?,
        };
        let builder = builder.port(settings.port).timeout(Some(timeout));
        let builder = match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            (None, None) => builder,
            _ => return Err(config("smtp.username and smtp.password are set together or not at all".into())),
        };
        Ok(Self { transport: builder.build(), from, timeout })
    }

    /// Sends `text_body` to `to` (`a@b.cn` or `姓名 <a@b.cn>`) as UTF-8 plain text, from the
    /// configured address, with a `Message-ID` derived from `message_id` (the delivery's id:
    /// the same id gives the same header, so a receiver can drop a re-sent copy).
    ///
    /// `Ok` means the relay accepted the mail. The whole exchange, from connecting to the
    /// relay's answer, gives up after `smtp.timeout_ms`: lettre bounds only the connect on
    /// tokio, and a relay that stops answering must not hold the delivery worker.
    #[tracing::instrument(skip_all, fields(message_id = %message_id))]
    pub async fn send(&self, to: &str, subject: &str, text_body: &str, message_id: &str) -> Result<(), EmailError> {
        let recipient: Mailbox =
            to.parse().map_err(|e| EmailError::Permanent(format!("recipient {to:?} is not an email address: {e}")))?;
        if message_id.is_empty() {
            return Err(EmailError::Permanent("the delivery has no id to derive a Message-ID from".into()));
        }
        let message = Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(subject)
            .message_id(Some(message_id_header(message_id, self.from.email.domain())))
            // A MIME single part (not `.body`): lettre then writes `MIME-Version: 1.0`, without
            // which a strict reader need not decode the base64 body.
            .singlepart(SinglePart::plain(text_body.to_owned()))
            .map_err(|e| EmailError::Permanent(format!("the mail cannot be built: {e}")))?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(EmailError::Retryable(format!("the relay did not finish within {:?}", self.timeout))),
        }
    }
}

/// 5xx is the relay's final word on this mail, except 5.3.x (530 authentication required,
/// 534/535/538): that is our credentials or TLS settings, which someone will fix, so the mail
/// waits. Everything else (no connection, I/O, TLS, 4xx, an answer we cannot parse) is
/// transient.
fn classify(e: &lettre::transport::smtp::Error) -> EmailError {
    match e.status() {
        Some(code) if e.is_permanent() && code.category != Category::Unspecified3 => {
            EmailError::Permanent(e.to_string())
        }
        _ => EmailError::Retryable(e.to_string()),
    }
}

/// `<id@domain>`, with the id kept as it is when it is made of ASCII letters, digits, `-` and
/// `_` (UUIDs are), and any other byte written `=XX`, so distinct ids give distinct headers
/// and the header stays a valid RFC 5322 msg-id.
fn message_id_header(id: &str, domain: &str) -> String {
    let mut out = String::with_capacity(id.len() + domain.len() + 3);
    out.push('<');
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out.push('@');
    out.push_str(domain);
    out.push('>');
    out
}

#[cfg(test)]
mod tests {
    //! Against a real SMTP exchange: the test relay of `tests/src/smtp.rs`.

    use super::*;

    use tokio::net::TcpListener;

    use crate::test_smtp::{Rules, TestRelay};

    /// Mailer settings pointing at `relay`.
    fn settings(relay: &TestRelay) -> SmtpSettings {
        SmtpSettings {
            host: relay.addr.ip().to_string(),
            port: relay.addr.port(),
            timeout_ms: 5_000,
            ..SmtpSettings::default()
        }
    }

    fn parse(data: &str) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(data.as_bytes()).expect("a parsable mail")
    }

    #[tokio::test]
    async fn given_a_chinese_notice_when_it_is_sent_then_subject_and_body_arrive_intact_and_7bit_clean() {
        let relay = TestRelay::start(Rules::default()).await;
        let mailer = Mailer::new(&settings(&relay)).expect("mailer");
        let subject = "【已逾期】答复共享申请 r1";
        let body = "您好：\n依据第21条，共享申请 r1 应于 2026年11月24日 前答复。\n.以点开头的一行\n此致";

        mailer
            .send("张三 <zhangsan@dept.gov.cn>", subject, body, "0192f6c3-7d1e-7c2a-9b4e-1f2a3b4c5d6e")
            .await
            .expect("sent");

        let received = relay.received();
        assert_eq!(received.len(), 1);
        let mail = &received[0];
        assert_eq!(mail.from, "noreply@govshare.local");
        assert_eq!(mail.to, ["zhangsan@dept.gov.cn"]);
        assert!(mail.data.is_ascii(), "the mail on the wire is 7-bit: {}", mail.data);
        assert!(mail.data.contains("Subject: =?utf-8?b?"), "subject is an RFC 2047 encoded word: {}", mail.data);
        let parsed = parse(&mail.data);
        assert_eq!(parsed.subject(), Some(subject));
        assert_eq!(parsed.body_text(0).expect("a text body").replace("\r\n", "\n"), body);
        let from = parsed.from().and_then(|f| f.first()).expect("a From");
        assert_eq!((from.name(), from.address()), (Some("govshare"), Some("noreply@govshare.local")));
        let to = parsed.to().and_then(|t| t.first()).expect("a To");
        assert_eq!((to.name(), to.address()), (Some("张三"), Some("zhangsan@dept.gov.cn")));
        let headers = mail.data.to_ascii_lowercase();
        assert!(headers.contains("mime-version: 1.0\r\n"), "{}", mail.data);
        assert!(headers.contains("content-type: text/plain; charset=utf-8\r\n"), "{}", mail.data);
    }

    #[tokio::test]
    async fn given_a_delivery_id_when_it_is_sent_twice_then_both_copies_carry_the_same_message_id_from_it() {
        let relay = TestRelay::start(Rules::default()).await;
        let mailer = Mailer::new(&settings(&relay)).expect("mailer");
        let id = "0192f6c3-7d1e-7c2a-9b4e-1f2a3b4c5d6e";

        for _ in 0..2 {
            mailer.send("ops@dept.gov.cn", "提醒", "正文", id).await.expect("sent");
        }

        let ids: Vec<String> =
            relay.received().iter().map(|m| parse(&m.data).message_id().expect("a Message-ID").to_owned()).collect();
        assert_eq!(ids, [format!("{id}@govshare.local"), format!("{id}@govshare.local")]);
    }

    #[test]
    fn an_id_with_other_characters_still_makes_a_valid_and_distinct_message_id() {
        assert_eq!(message_id_header("r1.supplement", "govshare.local"), "<r1=2Esupplement@govshare.local>");
        assert_eq!(message_id_header("r1 补", "x.cn"), "<r1=20=E8=A1=A5@x.cn>");
        assert_ne!(message_id_header("a.b", "x"), message_id_header("a=2Eb", "x"));
    }

    #[tokio::test]
    async fn given_an_unknown_mailbox_when_sending_then_the_550_is_permanent() {
        let relay = TestRelay::start(Rules { unknown: vec!["nobody@dept.gov.cn".into()], ..Rules::default() }).await;
        let mailer = Mailer::new(&settings(&relay)).expect("mailer");

        let err = mailer.send("nobody@dept.gov.cn", "提醒", "正文", "id-1").await.unwrap_err();

        assert!(matches!(&err, EmailError::Permanent(m) if m.contains("550")), "{err}");
        assert!(!err.is_retryable());
        assert!(relay.received().is_empty());
    }

    #[tokio::test]
    async fn given_a_busy_relay_when_sending_then_the_451_is_retried() {
        let relay = TestRelay::start(Rules { busy: vec!["ops@dept.gov.cn".into()], ..Rules::default() }).await;
        let mailer = Mailer::new(&settings(&relay)).expect("mailer");

        let err = mailer.send("ops@dept.gov.cn", "提醒", "正文", "id-1").await.unwrap_err();

        assert!(matches!(&err, EmailError::Retryable(m) if m.contains("451")), "{err}");
    }

    #[tokio::test]
    async fn given_a_relay_that_wants_credentials_when_sending_then_the_530_is_retried_not_dropped() {
        let relay = TestRelay::start(Rules { wants_credentials: true, ..Rules::default() }).await;
        let mailer = Mailer::new(&settings(&relay)).expect("mailer");

        let err = mailer.send("ops@dept.gov.cn", "提醒", "正文", "id-1").await.unwrap_err();

        assert!(matches!(&err, EmailError::Retryable(m) if m.contains("530")), "{err}");
    }

    #[tokio::test]
    async fn given_an_unparsable_address_when_sending_then_it_is_permanent_and_nothing_is_sent() {
        let relay = TestRelay::start(Rules::default()).await;
        let mailer = Mailer::new(&settings(&relay)).expect("mailer");

        let err = mailer.send("not an address", "提醒", "正文", "id-1").await.unwrap_err();

        assert!(matches!(err, EmailError::Permanent(_)), "{err}");
        assert!(relay.received().is_empty());
    }

    #[tokio::test]
    async fn given_no_relay_listening_when_sending_then_it_is_retried() {
        let free = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr");
        let settings = SmtpSettings { host: free.ip().to_string(), port: free.port(), ..SmtpSettings::default() };
        let mailer = Mailer::new(&settings).expect("mailer");

        let err = mailer.send("ops@dept.gov.cn", "提醒", "正文", "id-1").await.unwrap_err();

        assert!(matches!(err, EmailError::Retryable(_)), "{err}");
    }

    #[tokio::test]
    async fn given_a_relay_that_never_answers_when_sending_then_it_times_out_and_is_retried() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Accepts and holds the connection, never greets.
        let silent = tokio::spawn(async move {
            let (_held, _) = listener.accept().await.expect("accept");
            std::future::pending::<()>().await;
        });
        let settings =
            SmtpSettings { host: addr.ip().to_string(), port: addr.port(), timeout_ms: 300, ..SmtpSettings::default() };
        let mailer = Mailer::new(&settings).expect("mailer");

        let err = mailer.send("ops@dept.gov.cn", "提醒", "正文", "id-1").await.unwrap_err();

        assert!(matches!(&err, EmailError::Retryable(m) if m.contains("did not finish")), "{err}");
        silent.abort();
    }

    #[test]
    fn given_settings_that_cannot_work_when_building_the_mailer_then_it_says_so() {
        let bad_from = SmtpSettings { from: "govshare".into(), ..SmtpSettings::default() };
        assert!(matches!(Mailer::new(&bad_from), Err(EmailError::Config(_))));
        let half_login = SmtpSettings { username: Some("u".into()), ..SmtpSettings::default() };
        assert!(matches!(Mailer::new(&half_login), Err(EmailError::Config(_))));
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
            assert!(Mailer::new(&SmtpSettings { tls, ..SmtpSettings::default() }).is_ok(), "{tls:?}");
        }
    }
}
