//! Shared test helpers: a byte-scripted peer on 127.0.0.1 (it knows no
//! SMTP: it sends and expects exact bytes), and the real servers of
//! `scripts/test-servers.sh` through the `SMTP_TEST_*` variables.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use smtp_tokio::smtp_proto::Domain;
use smtp_tokio::{Builder, native_tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Upper bound for any single wait of the peer.
pub const PEER_WAIT: Duration = Duration::from_secs(10);

/// One action of the scripted peer.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Read exactly these bytes (or fail).
    Expect(Vec<u8>),
    /// Read until these bytes have been seen (ignoring what comes before).
    ReadUntil(Vec<u8>),
    /// Wait.
    Sleep(Duration),
    /// Read until the client closes or `PEER_WAIT`; ignore what it sends.
    Drain,
    /// Read until the client closes; fail if it sends anything.
    ExpectClosedSilently,
    /// Close the connection now.
    Close,
}

pub fn send(s: &str) -> Step {
    Step::Send(s.as_bytes().to_vec())
}

pub fn expect(s: &str) -> Step {
    Step::Expect(s.as_bytes().to_vec())
}

pub fn until(s: &str) -> Step {
    Step::ReadUntil(s.as_bytes().to_vec())
}

/// The usual opening: greeting, EHLO from `client.test`, and an EHLO reply
/// with the given extension lines (the last is sent with a space).
pub fn opening(extensions: &[&str]) -> Vec<Step> {
    let mut reply = String::from("250");
    if extensions.is_empty() {
        reply.push_str(" peer\r\n");
    } else {
        reply.push_str("-peer\r\n");
        for (i, e) in extensions.iter().enumerate() {
            let sep = if i + 1 == extensions.len() { ' ' } else { '-' };
            reply.push_str(&format!("250{sep}{e}\r\n"));
        }
    }
    vec![
        send("220 peer ESMTP\r\n"),
        expect("EHLO client.test\r\n"),
        Step::Send(reply.into_bytes()),
    ]
}

/// A peer serving scripted connections, one script per connection, in
/// order; it counts the connections it accepted.
pub struct Peer {
    pub addr: SocketAddr,
    handle: JoinHandle<Result<usize, String>>,
}

impl Peer {
    /// One connection running `steps`.
    pub async fn start(steps: Vec<Step>) -> Peer {
        Peer::start_many(vec![steps]).await
    }

    /// One connection per script, accepted one after the other.
    pub async fn start_many(scripts: Vec<Vec<Step>>) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            let mut served = 0;
            for (n, steps) in scripts.into_iter().enumerate() {
                let (stream, _) = tokio::time::timeout(PEER_WAIT, listener.accept())
                    .await
                    .map_err(|_| format!("connection {n}: none came"))?
                    .map_err(|e| e.to_string())?;
                served += 1;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                run_script(stream, steps)
                    .await
                    .map_err(|e| format!("connection {n}: {e}"))?;
            }
            Ok(served)
        });
        Peer { addr, handle }
    }

    /// Waits for every script to finish; panics with a failure.
    pub async fn finish(self) -> usize {
        match tokio::time::timeout(PEER_WAIT * 3, self.handle).await {
            Ok(Ok(Ok(n))) => n,
            Ok(Ok(Err(e))) => panic!("peer script failed: {e}"),
            Ok(Err(e)) => panic!("peer task failed: {e}"),
            Err(_) => panic!("peer script did not finish"),
        }
    }
}

pub async fn run_script(mut stream: TcpStream, steps: Vec<Step>) -> Result<(), String> {
    for (i, step) in steps.iter().enumerate() {
        run_step(&mut stream, step)
            .await
            .map_err(|e| format!("step {i} {}: {e}", describe(step)))?;
    }
    Ok(())
}

fn describe(step: &Step) -> String {
    match step {
        Step::Send(b) | Step::Expect(b) | Step::ReadUntil(b) if b.len() > 200 => {
            format!("({} bytes)", b.len())
        }
        other => format!("{other:?}"),
    }
}

async fn run_step(stream: &mut TcpStream, step: &Step) -> Result<(), String> {
    match step {
        Step::Send(bytes) => stream.write_all(bytes).await.map_err(|e| e.to_string()),
        Step::Expect(want) => {
            let mut got = vec![0u8; want.len()];
            let read = tokio::time::timeout(PEER_WAIT, stream.read_exact(&mut got)).await;
            match read {
                Err(_) => Err(format!("timed out waiting for {:?}", lossy(want))),
                Ok(Err(e)) => Err(format!("{e} waiting for {:?}", lossy(want))),
                Ok(Ok(_)) if &got == want => Ok(()),
                Ok(Ok(_)) => Err(format!("got {:?}, wanted {:?}", lossy(&got), lossy(want))),
            }
        }
        Step::ReadUntil(want) => {
            let mut seen: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                if seen.windows(want.len()).any(|w| w == want.as_slice()) {
                    return Ok(());
                }
                let keep = seen.len().saturating_sub(want.len());
                seen.drain(..keep);
                match tokio::time::timeout(PEER_WAIT, stream.read(&mut buf)).await {
                    Err(_) => return Err(format!("timed out waiting for {:?}", lossy(want))),
                    Ok(Err(e)) => return Err(e.to_string()),
                    Ok(Ok(0)) => return Err(format!("closed before {:?}", lossy(want))),
                    Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                }
            }
        }
        Step::Sleep(d) => {
            tokio::time::sleep(*d).await;
            Ok(())
        }
        Step::Drain => {
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(PEER_WAIT, stream.read_to_end(&mut sink)).await;
            Ok(())
        }
        Step::ExpectClosedSilently => {
            let mut all = Vec::new();
            match tokio::time::timeout(PEER_WAIT, stream.read_to_end(&mut all)).await {
                Err(_) => Err("the client did not close".to_owned()),
                Ok(_) if all.is_empty() => Ok(()),
                Ok(_) => Err(format!("client sent {:?} instead of closing", lossy(&all))),
            }
        }
        Step::Close => {
            let _ = stream.shutdown().await;
            Ok(())
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The builder every loopback test uses: fixed EHLO name, short deadlines.
pub fn loopback_builder(timeout: Duration) -> Builder {
    Builder::new()
        .local_hostname(Domain::parse("client.test").unwrap())
        .timeout(timeout)
}

// ----- real servers ------------------------------------------------------

/// The `SMTP_TEST_*` environment, or `None` (with a note) when the servers
/// are not set up; under `CI=true` a missing setup fails the test instead.
pub fn servers() -> Option<Servers> {
    if std::env::var("SMTP_TEST_SERVERS").as_deref() != Ok("1") {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "SMTP_TEST_SERVERS is not set under CI=true: run \
                 `eval \"$(scripts/test-servers.sh env)\"` after `scripts/test-servers.sh start`"
            );
        }
        eprintln!(
            "skipped: real test servers not configured \
             (scripts/test-servers.sh start; eval \"$(scripts/test-servers.sh env)\")"
        );
        return None;
    }
    Some(Servers)
}

/// Accessors for the `SMTP_TEST_*` variables.
pub struct Servers;

impl Servers {
    pub fn var(&self, name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
    }
    pub fn host(&self) -> String {
        self.var("SMTP_TEST_HOST")
    }
    pub fn port(&self, name: &str) -> u16 {
        self.var(name).parse().unwrap()
    }
    /// `host:port` for the port variable `name`.
    pub fn addr(&self, name: &str) -> String {
        format!("{}:{}", self.host(), self.port(name))
    }
    pub fn user(&self) -> String {
        self.var("SMTP_TEST_USER")
    }
    pub fn password(&self) -> String {
        self.var("SMTP_TEST_PASSWORD")
    }
    pub fn ca(&self) -> native_tls::Certificate {
        let pem = std::fs::read(self.var("SMTP_TEST_CA")).unwrap();
        native_tls::Certificate::from_pem(&pem).unwrap()
    }
    /// A builder trusting the test CA, with a test EHLO name.
    pub fn builder(&self) -> Builder {
        Builder::new()
            .add_root_certificate(self.ca())
            .local_hostname(Domain::parse("client.test").unwrap())
            .timeout(Duration::from_secs(30))
    }
    pub fn postfix_spool(&self) -> PathBuf {
        PathBuf::from(self.var("SMTP_TEST_POSTFIX_SPOOL"))
    }
    pub fn aiosmtpd_spool(&self) -> PathBuf {
        PathBuf::from(self.var("SMTP_TEST_AIOSMTPD_SPOOL"))
    }
    pub fn maildir(&self, user: &str) -> PathBuf {
        Path::new(&self.var("SMTP_TEST_MAILDIR_ROOT"))
            .join(user)
            .join("Maildir")
    }
}

/// Waits (bounded) for `path` to exist.
pub async fn wait_for(path: &Path) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if path.exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// The queue id at the end of "... queued as ID".
pub fn queue_id(text: &str) -> String {
    text.rsplit("queued as ")
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A Postfix spool entry: (message bytes, envelope lines), waiting for it.
pub async fn postfix_delivery(s: &Servers, reply_text: &str) -> (Vec<u8>, Vec<String>) {
    let id = queue_id(reply_text);
    let env = s.postfix_spool().join(format!("{id}.env"));
    assert!(wait_for(&env).await, "no delivery {}", env.display());
    let eml = std::fs::read(s.postfix_spool().join(format!("{id}.eml"))).unwrap();
    let env = std::fs::read_to_string(env).unwrap();
    (eml, env.lines().map(str::to_owned).collect())
}

/// The message Postfix stored, without its own `Received:` header (one
/// line and two TAB continuations).
pub fn strip_received(eml: &[u8]) -> &[u8] {
    let mut at = 0;
    assert!(eml.starts_with(b"Received: from "), "no Received header");
    for _ in 0..3 {
        let nl = eml[at..].iter().position(|&b| b == b'\n').unwrap();
        at += nl + 1;
    }
    &eml[at..]
}

/// An aiosmtpd spool entry: (exact DATA bytes, JSON text).
pub async fn aiosmtpd_delivery(s: &Servers, reply_text: &str) -> (Vec<u8>, String) {
    let id = queue_id(reply_text);
    let json = s.aiosmtpd_spool().join(format!("{id}.json"));
    assert!(wait_for(&json).await, "no delivery {}", json.display());
    let eml = std::fs::read(s.aiosmtpd_spool().join(format!("{id}.eml"))).unwrap();
    (eml, std::fs::read_to_string(json).unwrap())
}

/// A token unique to this test run, for finding messages.
pub fn token(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

/// Finds (bounded wait) the maildir file of `user` containing `token`.
pub async fn maildir_message(s: &Servers, user: &str, token: &str) -> Option<Vec<u8>> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        for sub in ["new", "cur"] {
            let dir = s.maildir(user).join(sub);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if let Ok(bytes) = std::fs::read(e.path())
                        && bytes.windows(token.len()).any(|w| w == token.as_bytes())
                    {
                        return Some(bytes);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
