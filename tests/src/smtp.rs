//! A small SMTP relay for tests: a real SMTP exchange (RFC 5321) on a free loopback port,
//! over tokio, recording every accepted mail; stopped on drop. Shared by the notify crate's
//! unit tests (included by path) and the system tests.
//!
//! (mailin-embedded was the first choice, but it pulls rustls with its default aws-lc-rs
//! provider next to async-nats's ring, which makes `rustls::ClientConfig::builder()` panic in
//! the same test binary, builds aws-lc-sys, and its server cannot be stopped.)

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};

/// One mail as the relay took it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// How the relay answers.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// `RCPT TO` these gets `550 5.1.1`.
    pub unknown: Vec<String>,
    /// `RCPT TO` these gets `451 4.3.0`.
    pub busy: Vec<String>,
    /// `MAIL FROM` gets `530 5.7.0 Authentication required`.
    pub wants_credentials: bool,
}

/// An SMTP relay on 127.0.0.1 (own port), recording every accepted mail; stopped on drop.
/// It offers no 8BITMIME, so lettre refuses to send it anything that is not 7-bit clean.
pub struct TestRelay {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which aborts every session.
        self.task.abort();
    }
}

impl TestRelay {
    pub async fn start(rules: Rules) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        let task = tokio::spawn(async move {
            let mut sessions = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                sessions.spawn(session(stream, rules.clone(), Arc::clone(&store)));
            }
        });
        Self { addr, received, task }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}

/// One SMTP session (RFC 5321): greeting, EHLO/HELO, MAIL, RCPT, DATA up to the lone dot
/// (dot-unstuffed), RSET, NOOP, QUIT.
async fn session(stream: TcpStream, rules: Rules, store: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut reply = async |text: &str| write.write_all(text.as_bytes()).await.is_ok();
    if !reply("220 relay.test ESMTP\r\n").await {
        return;
    }
    let (mut from, mut to) = (None::<String>, Vec::<String>::new());
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let verb = command.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase();
        let path = || {
            command
                .split_once(':')
                .map(|(_, p)| p.trim().trim_start_matches('<').split('>').next().unwrap_or_default().to_owned())
        };
        let answer = match verb.as_str() {
            "EHLO" | "HELO" => "250 relay.test\r\n".to_owned(),
            "MAIL" if rules.wants_credentials => "530 5.7.0 Authentication required\r\n".to_owned(),
            "MAIL" => {
                (from, to) = (path(), Vec::new());
                "250 2.1.0 OK\r\n".to_owned()
            }
            "RCPT" if from.is_none() => "503 5.5.1 MAIL first\r\n".to_owned(),
            "RCPT" => match path().unwrap_or_default() {
                r if rules.unknown.contains(&r) => "550 5.1.1 No such mailbox\r\n".to_owned(),
                r if rules.busy.contains(&r) => "451 4.3.0 Try again later\r\n".to_owned(),
                r => {
                    to.push(r);
                    "250 2.1.5 OK\r\n".to_owned()
                }
            },
            "DATA" if to.is_empty() => "503 5.5.1 No valid recipients\r\n".to_owned(),
            "DATA" => {
                if !reply("354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return;
                }
                let mut data = String::new();
                loop {
                    line.clear();
                    match lines.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let text = String::from_utf8_lossy(&line);
                    if text == ".\r\n" {
                        break;
                    }
                    data.push_str(text.strip_prefix('.').unwrap_or(&text));
                }
                let mail = Received { from: from.take().unwrap_or_default(), to: std::mem::take(&mut to), data };
                store.lock().expect("not poisoned").push(mail);
                "250 2.0.0 Queued\r\n".to_owned()
            }
            "RSET" => {
                (from, to) = (None, Vec::new());
                "250 2.0.0 OK\r\n".to_owned()
            }
            "NOOP" => "250 2.0.0 OK\r\n".to_owned(),
            "QUIT" => {
                reply("221 2.0.0 Bye\r\n").await;
                return;
            }
            _ => "500 5.5.2 Command not recognized\r\n".to_owned(),
        };
        if !reply(&answer).await {
            return;
        }
    }
}
