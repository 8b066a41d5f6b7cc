//! Shared test helpers: a byte-exact scripted peer on 127.0.0.1 (it knows
//! no SMTP: it sends and expects exact bytes), and access to the real
//! servers of `scripts/test-servers.sh` through the `SMTP_TEST_*` variables.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smtp_blocking::smtp_proto::Domain;
use smtp_blocking::{Builder, native_tls};

/// Upper bound for any single wait of the peer.
pub const PEER_WAIT: Duration = Duration::from_secs(10);

/// One action of the scripted peer.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes in one `write_all`.
    Send(Vec<u8>),
    /// Write these bytes, ignoring a closed connection.
    TrySend(Vec<u8>),
    /// Read exactly these bytes (or fail).
    Expect(Vec<u8>),
    /// Wait.
    Sleep(Duration),
    /// Read until the client closes; fail if it sends anything.
    ExpectClosedSilently,
    /// Read until the client closes or `PEER_WAIT`; ignore what it sends.
    Drain,
    /// Close the connection now.
    Close,
}

/// `Send` of a string.
pub fn send(s: &str) -> Step {
    Step::Send(s.as_bytes().to_vec())
}

/// `Expect` of a string.
pub fn expect(s: &str) -> Step {
    Step::Expect(s.as_bytes().to_vec())
}

/// A peer thread serving one connection.
pub struct Peer {
    pub addr: SocketAddr,
    handle: JoinHandle<Result<(), String>>,
}

impl Peer {
    /// Listens on 127.0.0.1:0 and runs `steps` on the first connection.
    pub fn start(steps: Vec<Step>) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || run_peer(listener, steps));
        Peer { addr, handle }
    }

    /// Waits for the script to finish; panics with its failure.
    pub fn finish(self) {
        match self.handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("peer script failed: {e}"),
            Err(_) => panic!("peer thread panicked"),
        }
    }
}

fn run_peer(listener: TcpListener, steps: Vec<Step>) -> Result<(), String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if start.elapsed() > PEER_WAIT {
                    return Err("no connection".into());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(PEER_WAIT))
        .map_err(|e| e.to_string())?;
    for (i, step) in steps.into_iter().enumerate() {
        run_step(&mut stream, &step).map_err(|e| format!("step {i} {step:?}: {e}"))?;
    }
    Ok(())
}

fn run_step(stream: &mut TcpStream, step: &Step) -> Result<(), String> {
    match step {
        Step::Send(bytes) => stream.write_all(bytes).map_err(|e| e.to_string()),
        Step::TrySend(bytes) => {
            let _ = stream.write_all(bytes);
            Ok(())
        }
        Step::Expect(want) => {
            let mut got = vec![0u8; want.len()];
            let mut filled = 0;
            while filled < want.len() {
                match stream.read(&mut got[filled..]) {
                    Ok(0) => {
                        return Err(format!(
                            "closed after {:?}, wanted {:?}",
                            String::from_utf8_lossy(&got[..filled]),
                            String::from_utf8_lossy(want)
                        ));
                    }
                    Ok(n) => filled += n,
                    Err(e) => {
                        return Err(format!(
                            "{e} after {:?}, wanted {:?}",
                            String::from_utf8_lossy(&got[..filled]),
                            String::from_utf8_lossy(want)
                        ));
                    }
                }
            }
            if &got == want {
                Ok(())
            } else {
                Err(format!(
                    "got {:?}, wanted {:?}",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(want)
                ))
            }
        }
        Step::Sleep(d) => {
            std::thread::sleep(*d);
            Ok(())
        }
        Step::ExpectClosedSilently => {
            let mut all = Vec::new();
            match stream.read_to_end(&mut all) {
                Ok(_) | Err(_) if all.is_empty() => Ok(()),
                _ => Err(format!(
                    "client sent {:?} instead of closing",
                    String::from_utf8_lossy(&all)
                )),
            }
        }
        Step::Drain => {
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
            Ok(())
        }
        Step::Close => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            Ok(())
        }
    }
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
pub fn wait_for(path: &Path) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
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
pub fn postfix_delivery(s: &Servers, reply_text: &str) -> (Vec<u8>, Vec<String>) {
    let id = queue_id(reply_text);
    let env = s.postfix_spool().join(format!("{id}.env"));
    assert!(wait_for(&env), "no delivery {}", env.display());
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
pub fn aiosmtpd_delivery(s: &Servers, reply_text: &str) -> (Vec<u8>, String) {
    let id = queue_id(reply_text);
    let json = s.aiosmtpd_spool().join(format!("{id}.json"));
    assert!(wait_for(&json), "no delivery {}", json.display());
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
pub fn maildir_message(s: &Servers, user: &str, token: &str) -> Option<Vec<u8>> {
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
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
