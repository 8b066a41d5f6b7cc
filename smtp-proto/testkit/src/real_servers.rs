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
             aiosmtpd, Exim) and they are not configured: {how}; or set SMTP_TEST_SKIP_SERVERS=1 \
             to skip the real-server tests"
        );
    }
    eprintln!("skipped on purpose (SMTP_TEST_SKIP_SERVERS=1): real-server test; {how}");
    None
}

/// [`servers`] for a test of the Exim instance (PRDR): also needs
/// `SMTP_TEST_EXIM_PORT` and `SMTP_TEST_EXIM_SPOOL`. When the servers are
/// configured without them (an environment printed before Exim was added
/// to `scripts/test-servers.sh`), the test fails with what to do;
/// `SMTP_TEST_SKIP_EXIM=1` skips it on purpose (`None`, with a note),
/// except under `CI=true`.
pub fn exim_servers() -> Option<Servers> {
    let s = servers()?;
    if std::env::var_os("SMTP_TEST_EXIM_PORT").is_some()
        && std::env::var_os("SMTP_TEST_EXIM_SPOOL").is_some()
    {
        return Some(s);
    }
    let how = "restart the servers with the current scripts/test-servers.sh (run \
               scripts/install-test-deps.sh first: it unpacks Exim) and re-run \
               `eval \"$(scripts/test-servers.sh env)\"`";
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if ci || std::env::var("SMTP_TEST_SKIP_EXIM").as_deref() != Ok("1") {
        panic!(
            "this test needs the Exim test server and SMTP_TEST_EXIM_PORT / \
             SMTP_TEST_EXIM_SPOOL are not set: {how}; or set SMTP_TEST_SKIP_EXIM=1 to skip \
             the Exim tests"
        );
    }
    eprintln!("skipped on purpose (SMTP_TEST_SKIP_EXIM=1): Exim test; {how}");
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
    /// The test CA (the servers' self-signed certificate), PEM; each
    /// adapter's `ServersExt::ca` makes its `Certificate` of it.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.var("SMTP_TEST_CA")).unwrap()
    }
    pub fn postfix_spool(&self) -> PathBuf {
        PathBuf::from(self.var("SMTP_TEST_POSTFIX_SPOOL"))
    }
    pub fn aiosmtpd_spool(&self) -> PathBuf {
        PathBuf::from(self.var("SMTP_TEST_AIOSMTPD_SPOOL"))
    }
    /// Exim's port (PRDR; STARTTLS, no AUTH): `SMTP_TEST_EXIM_PORT`.
    pub fn exim_port(&self) -> u16 {
        self.port("SMTP_TEST_EXIM_PORT")
    }
    pub fn exim_spool(&self) -> PathBuf {
        PathBuf::from(self.var("SMTP_TEST_EXIM_SPOOL"))
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

/// The Exim message id in a final reply: "250 OK id=ID" (DATA), "250- N
/// byte chunk, total M" + "250 OK id=ID" (BDAT LAST), and with PRDR "250
/// id=ID message accepted[ for some recipients]" or "550 id=ID message
/// rejected for all recipients". (A PRDR per-recipient reply, "250 PRDR
/// R=`<ADDRESS>` acceptance", has no id.)
pub fn exim_id(text: &str) -> String {
    let (_, rest) = text
        .rsplit_once("id=")
        .unwrap_or_else(|| panic!("no Exim id (\"id=\") in {text:?}"));
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    assert!(!id.is_empty(), "no Exim id after \"id=\" in {text:?}");
    id
}

/// An Exim spool entry, waiting (bounded) for it: (message bytes with CRLF
/// line endings and Exim's `Received:` header first, envelope lines:
/// "sender ADDRESS" then one "rcpt ADDRESS" per recipient delivered). Only
/// the recipients a PRDR exchange accepted are listed.
pub fn exim_delivery(s: &Servers, reply_text: &str) -> (Vec<u8>, Vec<String>) {
    let id = exim_id(reply_text);
    exim_delivery_by_id(s, &id)
}

/// [`exim_delivery`] by Exim id.
pub fn exim_delivery_by_id(s: &Servers, id: &str) -> (Vec<u8>, Vec<String>) {
    let env = s.exim_spool().join(format!("{id}.env"));
    assert!(wait_for(&env), "no delivery {}", env.display());
    let eml = std::fs::read(s.exim_spool().join(format!("{id}.eml"))).unwrap();
    let env = std::fs::read_to_string(env).unwrap();
    (eml, env.lines().map(str::to_owned).collect())
}

/// The recipients of envelope lines (`rcpt ADDRESS`), sorted: Exim's order
/// is normally, not always, RCPT order.
pub fn envelope_rcpts(env: &[String]) -> Vec<String> {
    let mut rcpts: Vec<String> = env
        .iter()
        .filter_map(|l| l.strip_prefix("rcpt "))
        .map(str::to_owned)
        .collect();
    rcpts.sort();
    rcpts
}

/// The message Exim stored, without its own `Received:` header (one line
/// ending in `;` and a TAB continuation with the date, CRLF endings):
/// the exact bytes sent, for a message with CRLF line endings only.
pub fn strip_exim_received(eml: &[u8]) -> &[u8] {
    assert!(eml.starts_with(b"Received: "), "no Received header");
    let first = eml.windows(3).position(|w| w == b";\r\n").unwrap() + 3;
    assert_eq!(
        eml[first], b'\t',
        "Exim's Received header: date on a TAB line"
    );
    let second = eml[first..].windows(2).position(|w| w == b"\r\n").unwrap();
    &eml[first + second + 2..]
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

/// A PRDR case for the project's Exim: a message to three recipients of
/// which Exim's PRDR rule refuses the second after the data (its local
/// part starts with `prdrreject`). Both adapters send it and check the
/// result with [`PrdrCase::check`].
pub struct PrdrCase {
    pub envelope: smtp_proto::Envelope,
    pub message: Vec<u8>,
    /// The recipients that must get the message.
    pub kept: Vec<String>,
}

impl PrdrCase {
    pub fn new(tag: &str) -> PrdrCase {
        let tok = token(tag);
        let to = [
            format!("one-{tok}@example.org"),
            format!("prdrreject-{tok}@example.org"),
            format!("three-{tok}@example.org"),
        ];
        let envelope = smtp_proto::Envelope::new(
            smtp_proto::ReversePath::parse("sender@example.org").unwrap(),
            to.iter()
                .map(|t| smtp_proto::ForwardPath::parse(t).unwrap()),
        );
        let mut kept = vec![to[0].clone(), to[2].clone()];
        kept.sort();
        PrdrCase {
            envelope,
            message: format!("Subject: {tok}\r\n\r\nper-recipient replies\r\n.dot\r\n")
                .into_bytes(),
            kept,
        }
    }

    /// The report gives each recipient its own reply after the data (two
    /// 250s and the rule's 550), the message's own reply carries Exim's id,
    /// and Exim stored the exact bytes for the two kept recipients only.
    pub fn check(&self, s: &Servers, report: &smtp_proto::TxnReport) {
        use smtp_proto::TxnOutcome;
        assert_eq!(report.outcome, TxnOutcome::Delivered, "{report:#?}");
        let codes: Vec<Option<u16>> = report
            .recipients
            .iter()
            .map(|r| r.delivery_reply.as_ref().map(|x| x.code().get()))
            .collect();
        assert_eq!(codes, [Some(250), Some(550), Some(250)], "{report:#?}");
        let refusal = report.recipients[1].refusal().unwrap().text_lossy();
        assert!(refusal.contains("5.7.1"), "{refusal}");
        let refused: Vec<String> = report.refused().map(|(a, _)| a.to_string()).collect();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("prdrreject-"), "{refused:?}");
        let message = report.message_reply.as_ref().expect("PRDR's message reply");
        let (eml, env) = exim_delivery(s, &message.text_lossy());
        assert_eq!(envelope_rcpts(&env), self.kept);
        assert_eq!(env[0], "sender sender@example.org");
        assert_eq!(strip_exim_received(&eml), self.message.as_slice());
    }
}
