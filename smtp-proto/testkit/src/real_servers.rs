//! Test helpers both adapters share: the real servers of
//! `scripts/test-servers.sh` through the `SMTP_TEST_*` variables, with
//! their spools. Each adapter's `tests/common/mod.rs` adds what needs its
//! own `Builder` (the loopback builder, and `Servers::builder` through an
//! extension trait). The spool readers block (polling the file system): an
//! async test calls them while its client is idle.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `SMTP_TEST_*` environment. Without it the test fails with what to
/// do, so that a plain `cargo test` is never silently green over tests
/// that did not run; `SMTP_TEST_SKIP_SERVERS=1` skips them on purpose
/// (`None`, with a note), except under `CI=true`.
pub fn servers() -> Option<Servers> {
    if std::env::var("SMTP_TEST_SERVERS").as_deref() == Ok("1") {
        return Some(Servers);
    }
    let how = "run scripts/test.sh (it starts the servers), or \
               `scripts/test-servers.sh start && eval \"$(scripts/test-servers.sh env)\"` \
               before cargo test";
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if ci || std::env::var("SMTP_TEST_SKIP_SERVERS").as_deref() != Ok("1") {
        panic!(
            "this test needs the project's real test servers (Postfix, smtp-sink, Dovecot, \
             aiosmtpd) and they are not configured: {how}; or set SMTP_TEST_SKIP_SERVERS=1 \
             to skip the real-server tests"
        );
    }
    eprintln!("skipped on purpose (SMTP_TEST_SKIP_SERVERS=1): real-server test; {how}");
    None
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
