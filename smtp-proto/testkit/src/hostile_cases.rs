//! The hostile-server case table both adapters run (each in its
//! `tests/hostile.rs`). A case is data: a scenario (a `.scn` file or
//! inline text in the format of [`hostile`](crate::hostile)), the client
//! settings, and the calls with the exact outcome each must give, rendered
//! as a short string by [`error`], [`reply`], [`unit`](fn@unit) and
//! [`refused`], so that one expectation serves both adapters (they share
//! one `Error` type, [`smtp_proto::session::Error`]). An expectation
//! ending in `*` is a prefix. The scenario itself checks the bytes the client sent
//! (`C:` lines are exact; `END` fails on any byte after it); `forbid` lists
//! byte strings that must appear nowhere in what the client sent.

use std::time::Duration;

use smtp_proto::session::Error;
use smtp_proto::smtplib::Refused;
use smtp_proto::{Domain, Error as E, ProtocolError as P, Reply};

/// The TLS policy, as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Disabled,
    Opportunistic,
    Required,
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct Setup {
    pub policy: Policy,
    /// `Timeouts::uniform` value (and the connect timeout).
    pub timeout: Duration,
    pub pipelining: bool,
    pub chunking: bool,
    pub lmtp: bool,
    pub plaintext_auth: bool,
    /// Trust the test certificate.
    pub trust: bool,
    /// `Builder::call_deadline`, when set.
    pub call_deadline: Option<Duration>,
    /// `Builder::transaction_deadline`, when set.
    pub transaction_deadline: Option<Duration>,
    pub server_name: &'static str,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            policy: Policy::Disabled,
            timeout: Duration::from_secs(3),
            pipelining: true,
            chunking: true,
            lmtp: false,
            plaintext_auth: false,
            trust: true,
            call_deadline: None,
            transaction_deadline: None,
            server_name: "localhost",
        }
    }
}

/// One client call.
#[derive(Clone, Debug)]
pub enum Call {
    /// Always the first call: the builder's `connect_port`.
    Connect,
    Noop,
    Quit,
    Rset,
    Ehlo,
    Starttls,
    Login(&'static str, &'static str),
    /// `auth("X-TEST", ..)`: no initial response, answers every challenge
    /// with "a".
    AuthEcho,
    Sendmail {
        from: String,
        to: Vec<String>,
        body: Vec<u8>,
        mail_opts: Vec<String>,
        rcpt_opts: Vec<String>,
    },
    Mail(String, Vec<String>),
    Rcpt(String, Vec<String>),
    Data(Vec<u8>),
    Docmd(String, String),
    Verify(String),
    Expn(String),
    Help(Option<String>),
    /// `smtp_proto::Domain::parse`, the only way to an EHLO name.
    ParseDomain(String),
    /// `has_extn`: "true"/"false".
    HasExtn(&'static str),
    /// `is_tls`: "true"/"false".
    IsTls,
    /// Let the server act first.
    Sleep(Duration),
    /// `send_many` of [`batch_messages`]`(n)`, rendered by [`batch`].
    SendMany(usize),
}

/// A case of the table.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    /// Scenario text (`INCLUDE` reaches the `.scn` files).
    pub scn: String,
    pub setup: Setup,
    pub calls: Vec<(Call, String)>,
    /// Must appear nowhere in what the client sent.
    pub forbid: Vec<&'static str>,
    /// Upper bound for all calls together.
    pub budget: Duration,
    /// A known library bug: the case runs only in the ignored test.
    pub finding: Option<&'static str>,
    /// The adapters (`"blocking"`, `"tokio"`) the finding applies to;
    /// empty: both.
    pub finding_in: &'static [&'static str],
}

fn case(name: impl Into<String>, scn: impl Into<String>, calls: &[(Call, &str)]) -> Case {
    Case {
        name: name.into(),
        scn: scn.into(),
        setup: Setup::default(),
        calls: calls
            .iter()
            .map(|(c, e)| (c.clone(), (*e).to_owned()))
            .collect(),
        forbid: Vec::new(),
        budget: Duration::from_secs(4),
        finding: None,
        finding_in: &[],
    }
}

impl Case {
    fn setup(mut self, f: impl FnOnce(&mut Setup)) -> Self {
        f(&mut self.setup);
        self
    }
    fn forbid(mut self, f: &[&'static str]) -> Self {
        self.forbid.extend_from_slice(f);
        self
    }
    fn short(self, ms: u64) -> Self {
        let mut c = self.setup(|s| s.timeout = Duration::from_millis(ms));
        c.budget = Duration::from_millis(ms * 3 + 2000);
        c
    }
    // No case is a finding now (none are open): kept for the next one.
    #[allow(dead_code)]
    fn finding(mut self, why: &'static str) -> Self {
        self.finding = Some(why);
        self
    }
    #[allow(dead_code)]
    fn finding_in(mut self, adapters: &'static [&'static str], why: &'static str) -> Self {
        self.finding = Some(why);
        self.finding_in = adapters;
        self
    }
    /// Whether this case documents a library bug in `adapter`.
    pub fn is_finding(&self, adapter: &str) -> bool {
        self.finding.is_some() && (self.finding_in.is_empty() || self.finding_in.contains(&adapter))
    }
}

/// Whether `got` satisfies `want`: exact, a prefix when `want` ends in
/// `*`, any of several alternatives separated by ` | `.
pub fn matches(want: &str, got: &str) -> bool {
    if want.contains(" | ") {
        return want.split(" | ").any(|w| matches(w, got));
    }
    match want.strip_suffix('*') {
        Some(prefix) => got.starts_with(prefix),
        None => want == got,
    }
}

fn code(r: &Reply) -> u16 {
    r.code().get()
}

/// The canonical rendering of an error.
pub fn error(e: &Error) -> String {
    match e {
        Error::NotSupported(_) => "NotSupported".into(),
        Error::ServerDisconnected { stage } => format!("ServerDisconnected({stage:?})"),
        Error::ServiceClosing { reply, stage } => {
            format!("ServiceClosing({stage:?}, {})", code(reply))
        }
        Error::SenderRefused { reply, .. } => format!("SenderRefused({})", code(reply)),
        Error::RecipientsRefused { recipients } => {
            let mut v: Vec<String> = recipients
                .iter()
                .map(|(a, r)| format!("{a}={}", code(r)))
                .collect();
            v.sort();
            format!("RecipientsRefused[{}]", v.join(","))
        }
        Error::DataError { reply } => format!("DataError({})", code(reply)),
        Error::ConnectError { reply } => format!("ConnectError({})", code(reply)),
        Error::HeloError { reply } => format!("HeloError({})", code(reply)),
        Error::AuthenticationError { mechanism, reply } => {
            format!("AuthenticationError({mechanism}, {})", code(reply))
        }
        Error::MutualAuthFailed {
            mechanism,
            reason,
            reply,
        } => format!("MutualAuthFailed({mechanism}, {reason:?}, {})", code(reply)),
        Error::TlsRequired { reply } => match reply {
            Some(r) => format!("TlsRequired({})", code(r)),
            None => "TlsRequired(None)".into(),
        },
        Error::OutcomeUnknown { cause } => format!("OutcomeUnknown({})", error(cause)),
        Error::Timeout { stage } => format!("Timeout({stage:?})"),
        Error::DeadlineExceeded { deadline, stage } => {
            let which = match deadline {
                smtp_proto::Deadline::Call(_) => "Call",
                smtp_proto::Deadline::Transaction(_) => "Transaction",
                _ => "other",
            };
            format!("DeadlineExceeded({which}, {stage:?})")
        }
        Error::NoGreeting { .. } => "NoGreeting".into(),
        Error::Io(io) => format!("Io({:?})", io.kind()),
        Error::Tls(_) => "Tls".into(),
        Error::Protocol {
            error: E::Protocol(P::MalformedReply(m)),
            ..
        } => format!("Protocol({m:?})"),
        Error::Protocol {
            error: E::Protocol(P::UnexpectedReply { reply }),
            ..
        } => {
            format!("Protocol(UnexpectedReply({}))", code(reply))
        }
        Error::Protocol {
            error: E::Protocol(P::BadGreeting { reply }),
            ..
        } => {
            format!("Protocol(BadGreeting({}))", code(reply))
        }
        Error::Protocol {
            error: E::Protocol(p),
            ..
        } => format!("Protocol({p:?})"),
        Error::Protocol { error, .. } => format!("Protocol({error:?})"),
        Error::Usage(u) => format!("Usage({u:?})"),
        Error::InvalidArgument(s) => format!("InvalidArgument({s})"),
        Error::InvalidMessage(s) => format!("InvalidMessage({s})"),
        Error::Poisoned { .. } => "Poisoned".into(),
        other => format!("other: {other:?}"),
    }
}

/// `ok CODE` for a reply.
pub fn reply(r: &Result<Reply, Error>) -> String {
    match r {
        Ok(r) => format!("ok {}", code(r)),
        Err(e) => error(e),
    }
}

/// `ok` for unit.
pub fn unit(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => error(e),
    }
}

/// `ok []` or `ok [b@x.test=550]` for sendmail.
pub fn refused(r: &Result<Refused, Error>) -> String {
    match r {
        Ok(map) => {
            let mut v: Vec<String> = map
                .iter()
                .map(|(a, r)| format!("{a}={}", code(r)))
                .collect();
            v.sort();
            format!("ok [{}]", v.join(","))
        }
        Err(e) => error(e),
    }
}

/// The messages of [`Call::SendMany`]: message `i` goes from `a@x.test`
/// to `r{i}@x.test` with the body `Subject: m{i}` (so a scenario can wait
/// for a given message's data with `C* Subject: m{i}`).
pub fn batch_messages(n: usize) -> Vec<(smtp_proto::Envelope, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let to = smtp_proto::ForwardPath::parse(&format!("r{i}@x.test"));
            let envelope = smtp_proto::Envelope::new(
                smtp_proto::ReversePath::parse("a@x.test")
                    .unwrap_or_else(|_| smtp_proto::ReversePath::null()),
                to,
            );
            (
                envelope,
                format!("Subject: m{i}\r\n\r\nhi\r\n").into_bytes(),
            )
        })
        .collect()
}

/// `[ok; ok; OutcomeUnknown(...)]`: each message of a batch in order,
/// `ok` when every recipient got it, else its report's summary or its
/// error.
pub fn batch(results: &[Result<smtp_proto::TxnReport, Error>]) -> String {
    let each: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(report) if report.all_delivered() => "ok".to_owned(),
            Ok(report) => format!("report({})", report.summary()),
            Err(e) => error(e),
        })
        .collect();
    format!("[{}]", each.join("; "))
}

/// `ok` or the error of `Domain::parse`.
pub fn parse_domain(s: &str) -> String {
    match Domain::parse(s) {
        Ok(_) => "ok".into(),
        Err(e) => format!("AddressError({e:?})"),
    }
}

// ---------------------------------------------------------------- helpers

const HELLO: &str = "INCLUDE _hello\n";
const HELLO_PIPE: &str = "INCLUDE _hello_pipelining\n";
const HELLO_PIPE_CHUNKING: &str = "S: 220 peer.test ESMTP\nC: EHLO client.test\n\
    S+ 250-peer.test\nS+ 250-PIPELINING\nS: 250 CHUNKING\n";

fn s(x: &str) -> String {
    x.to_owned()
}

fn sendmail(from: &str, to: &[&str], body: &[u8]) -> Call {
    Call::Sendmail {
        from: s(from),
        to: to.iter().map(|t| s(t)).collect(),
        body: body.to_vec(),
        mail_opts: Vec::new(),
        rcpt_opts: Vec::new(),
    }
}

fn sendmail_opts(from: &str, to: &[&str], body: &[u8], mail: &[&str], rcpt: &[&str]) -> Call {
    Call::Sendmail {
        from: s(from),
        to: to.iter().map(|t| s(t)).collect(),
        body: body.to_vec(),
        mail_opts: mail.iter().map(|t| s(t)).collect(),
        rcpt_opts: rcpt.iter().map(|t| s(t)).collect(),
    }
}

fn simple() -> Call {
    sendmail("a@x.test", &["b@x.test"], b"Subject: x\r\n\r\nhi\r\n")
}

const BODY_WIRE: &str = "Subject: x\\r\\n\\r\\nhi\\r\\n.";

/// The whole table.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    starttls(&mut v);
    caller_input(&mut v);
    replies(&mut v);
    faults(&mut v);
    in_flight(&mut v);
    deadlines(&mut v);
    transactions(&mut v);
    v
}

// ------------------------------------------------------ overall deadlines

/// A server that answers every command inside the reply timeout, or drips
/// its reply byte by byte, cannot stretch a call or a transaction past its
/// overall deadline; the error names the deadline and the stage, and after
/// the end of data the outcome is unknown.
fn deadlines(v: &mut Vec<Case>) {
    use Call::*;
    let ms = Duration::from_millis;
    let lock_step = format!(
        "{HELLO}C: MAIL FROM:<a@x.test>\nSTALL 600ms\nS: 250 ok\n\
         C: RCPT TO:<b@x.test>\nSTALL 1500ms\nEND\n"
    );
    let drip_after_dot = format!(
        "{HELLO_PIPE}C: MAIL FROM:<a@x.test>\nC: RCPT TO:<b@x.test>\nC: DATA\n\
         S+ 250 ok\nS+ 250 ok\nS: 354 go\nC: {BODY_WIRE}\n\
         DRIP 100ms 250 queued, but this reply takes its time\nEND\n"
    );
    let mut c = case(
        "deadline/call/just-in-time-replies",
        lock_step.clone(),
        &[
            (Connect, "ok"),
            (simple(), "DeadlineExceeded(Call, Some(Rcpt))"),
            (Noop, "Poisoned"),
        ],
    )
    .setup(|s| {
        s.timeout = ms(800);
        s.call_deadline = Some(ms(1000));
    });
    c.budget = Duration::from_secs(4);
    v.push(c);
    v.push(
        case(
            "deadline/transaction/just-in-time-replies",
            lock_step,
            &[
                (Connect, "ok"),
                (simple(), "DeadlineExceeded(Transaction, Some(Rcpt))"),
            ],
        )
        .setup(|s| {
            s.timeout = ms(800);
            s.transaction_deadline = Some(ms(1000));
        }),
    );
    v.push(
        case(
            "deadline/call/drip-after-dot",
            drip_after_dot.clone(),
            &[
                (Connect, "ok"),
                (
                    simple(),
                    "OutcomeUnknown(DeadlineExceeded(Call, Some(DataEnd)))",
                ),
            ],
        )
        .setup(|s| s.call_deadline = Some(ms(800))),
    );
    v.push(
        case(
            "deadline/transaction/drip-after-dot",
            drip_after_dot,
            &[
                (Connect, "ok"),
                (
                    simple(),
                    "OutcomeUnknown(DeadlineExceeded(Transaction, Some(DataEnd)))",
                ),
            ],
        )
        .setup(|s| s.transaction_deadline = Some(ms(800))),
    );
}

// ------------------------------------------------------- STARTTLS and TLS

fn starttls(v: &mut Vec<Case>) {
    use Call::*;
    let open = "INCLUDE _starttls_open\n";
    // Rule 1: bytes after the 220, three ways.
    for (name, tail) in [
        ("whole-reply", "S+ 220 2.0.0 go\nS: 250 injected\n"),
        ("partial-line", "S+ 220 2.0.0 go\nR: 250 inj\n"),
        (
            "multiline-220-then-reply",
            "S+ 220-go\nS+ 220 ahead\nS: 250-AUTH PLAIN\n",
        ),
    ] {
        v.push(
            case(
                format!("starttls/bytes-after-220/{name}"),
                format!("{open}C: STARTTLS\n{tail}END\n"),
                &[
                    (Connect, "ok"),
                    (Starttls, "Protocol(DataAfterStartTls)"),
                    (IsTls, "false"),
                    (Noop, "Poisoned"),
                ],
            )
            .forbid(&["AUTH", "MAIL", "QUIT"]),
        );
    }
    // The injected reply in a later segment: the client is already in the
    // handshake and reads it as a broken TLS record.
    v.push(
        case(
            "starttls/bytes-after-220/later-segment",
            format!("{open}C: STARTTLS\nS: 220 2.0.0 go\nSTALL 300ms\nS? 250 injected\nDRAIN\n"),
            &[(Connect, "ok"), (Starttls, "Tls"), (Noop, "Poisoned")],
        )
        .forbid(&["AUTH", "MAIL", "QUIT"]),
    );
    // Rule 2: refused under Required (including a nonsense 354): only QUIT.
    for code in [
        "454 4.7.0 TLS not available",
        "502 5.5.1 no",
        "554 5.7.3 no",
        "354 what",
        "250 ok but no",
    ] {
        let n = &code[..3];
        v.push(
            case(
                format!("starttls/refused-{n}-required"),
                format!("{open}C: STARTTLS\nS: {code}\nBYE\n"),
                &[(Connect, &format!("TlsRequired({n})"))],
            )
            .setup(|s| s.policy = Policy::Required)
            .forbid(&[
                "AUTH",
                "MAIL",
                "NOOP",
                "EHLO client.test\r\nSTARTTLS\r\nEHLO",
            ]),
        );
    }
    v.push(
        case(
            "starttls/missing-required",
            "S: 220 peer.test ESMTP\nC: EHLO client.test\nS: 250 AUTH PLAIN\nBYE\n",
            &[(Connect, "TlsRequired(None)")],
        )
        .setup(|s| s.policy = Policy::Required)
        .forbid(&["AUTH", "MAIL"]),
    );
    // Rule 1: a failing EHLO after TLS: the old capabilities never come back.
    v.push(case(
        "starttls/post-tls-ehlo-fails",
        "INCLUDE starttls-post-tls-ehlo-fails",
        &[
            (Connect, "ok"),
            (HasExtn("AUTH"), "true"),
            // TLS is up; the refused EHLO leaves no capabilities at all
            // (smtplib's starttls does not report the EHLO either).
            (Starttls, "ok"),
            (IsTls, "true"),
            (HasExtn("AUTH"), "false"),
            (HasExtn("STARTTLS"), "false"),
            (Ehlo, "ok 250"),
            (HasExtn("SIZE"), "true"),
            (HasExtn("AUTH"), "false"),
        ],
    ));
    // Rule 1: capabilities are relearned; STARTTLS advertised over TLS is
    // ignored (a second STARTTLS is a usage error, nothing sent).
    v.push(case(
        "starttls/readvertised-over-tls",
        "INCLUDE starttls-readvertised-over-tls",
        &[
            (Connect, "ok"),
            (Starttls, "ok"),
            (IsTls, "true"),
            (HasExtn("AUTH"), "false"),
            (HasExtn("SIZE"), "true"),
            (Starttls, "Usage(TlsAlreadyActive)"),
            (Noop, "ok 250"),
        ],
    ));
    v.push(
        case(
            "starttls/handshake-stall",
            format!("{open}C: STARTTLS\nS: 220 go\nSTALL 1500ms\nDRAIN\n"),
            // The handshake deadline names no stage (both adapters).
            &[
                (Connect, "ok"),
                (Starttls, "Timeout(None)"),
                (Noop, "Poisoned"),
            ],
        )
        .short(300)
        .forbid(&["QUIT"]),
    );
    // Faults inside the TLS handshake after the 220, next to the stall
    // before any ServerHello above: the server hangs up or resets, answers
    // in plaintext, stops halfway through its ServerHello, or drips a
    // ServerHello that never completes (longer than the case's budget).
    // Each fails the STARTTLS within the handshake's deadline, and nothing
    // else is written (no QUIT, no
    // plaintext AUTH or NOOP after the failed handshake).
    let hello_part = "R: \\x16\\x03\\x03\\x00\\x4a\\x02\\x00\\x00\\x46\\x03\\x03\n";
    let drip = "DRIP 60ms \\x16\\x03\\x03\\x40\\x00\\x02\\x00\\x3f\\xfc\\x03\\x03\
                0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    // (The server first reads the start of the ClientHello: bytes that
    // come with the 220 are refused before any handshake, see
    // bytes-after-220 above.)
    for (name, tail, want, short) in [
        ("eof", s("CLOSE\n"), "Tls", None),
        // native-tls reports a reset inside its handshake as a TLS error;
        // one that comes before the handshake's first read is an I/O error.
        ("rst", s("RESET\n"), "Tls | Io(ConnectionReset)", None),
        (
            "plaintext-421",
            s("C* \\x16\\x03\nS: 421 4.3.2 closing\nDRAIN\n"),
            "Tls",
            None,
        ),
        (
            "stall-mid-server-hello",
            format!("C* \\x16\\x03\n{hello_part}STALL 1500ms\nDRAIN\n"),
            "Timeout(None)",
            Some(300),
        ),
        (
            "drip-server-hello",
            format!("C* \\x16\\x03\n{drip}DRAIN\n"),
            "Timeout(None)",
            Some(400),
        ),
    ] {
        let mut c = case(
            format!("starttls/handshake/{name}"),
            format!("{open}C: STARTTLS\nS: 220 go\n{tail}"),
            &[
                (Connect, "ok"),
                (Starttls, want),
                (IsTls, "false"),
                (Noop, "Poisoned"),
            ],
        )
        .forbid(&["QUIT", "AUTH", "NOOP"]);
        if let Some(ms) = short {
            c = c.short(ms);
        }
        v.push(c);
    }
    // Rule 2: verification on by default.
    v.push(
        case(
            "starttls/untrusted-certificate",
            format!("{open}C: STARTTLS\nS: 220 go\nTLS?\nDRAIN\n"),
            &[(Connect, "ok"), (Starttls, "Tls"), (Noop, "Poisoned")],
        )
        .setup(|s| s.trust = false)
        .forbid(&["QUIT", "AUTH"]),
    );
    v.push(
        case(
            "starttls/wrong-host-name",
            format!("{open}C: STARTTLS\nS: 220 go\nTLS?\nDRAIN\n"),
            &[(Connect, "ok"), (Starttls, "Tls"), (Noop, "Poisoned")],
        )
        .setup(|s| s.server_name = "other.test")
        .forbid(&["QUIT", "AUTH"]),
    );
    // Rule 7: EHLO falls back to HELO only on 500/502, and never when that
    // would bypass required TLS.
    for (code, policy, scn, want) in [
        (
            "500",
            Policy::Disabled,
            "C: HELO client.test\nS: 250 peer.test\nBYE\n",
            "ok",
        ),
        (
            "502",
            Policy::Disabled,
            "C: HELO client.test\nS: 250 peer.test\nBYE\n",
            "ok",
        ),
        // No HELO after 550; connecting still succeeds (smtplib reports a
        // failed EHLO at the next command that needs it).
        ("550", Policy::Disabled, "BYE\n", "ok"),
        // HELO under required TLS gives no STARTTLS: the policy still
        // fails and only QUIT follows, so nothing is bypassed.
        (
            "502",
            Policy::Required,
            "C: HELO client.test\nS: 250 peer.test\nBYE\n",
            "TlsRequired(None)",
        ),
    ] {
        v.push(
            case(
                format!("starttls/ehlo-{code}-{policy:?}"),
                format!("S: 220 peer.test\nC: EHLO client.test\nS: {code} no EHLO\n{scn}"),
                &[(Connect, want)],
            )
            .setup(|s| s.policy = policy)
            .forbid(if code == "550" {
                &["HELO", "MAIL", "AUTH"]
            } else {
                &["MAIL", "AUTH"]
            }),
        );
    }
    // Rule 7: 421 to AUTH ends it: no second mechanism.
    v.push(
        case(
            "starttls/421-to-auth-no-second-mechanism",
            "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH PLAIN LOGIN\n\
             C: AUTH PLAIN AHUAcA==\nS: 421 4.7.0 go away\nEND\n",
            &[
                (Connect, "ok"),
                (Login("u", "p"), "ServiceClosing(Auth, 421)"),
            ],
        )
        .setup(|s| s.plaintext_auth = true)
        .forbid(&["AUTH LOGIN", "QUIT"]),
    );
    // Rule 3, wider: no AUTH of any mechanism without TLS unless the caller
    // opts in; CRAM-MD5 would show the user name and an offline-crackable
    // answer, and a STARTTLS-stripping attacker can offer it.
    v.push(
        case(
            "starttls/cram-md5-without-tls-refused",
            "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH CRAM-MD5\nBYE\n",
            &[
                (Connect, "ok"),
                (Login("u", "secret"), "Usage(PlaintextAuthRefused(*"),
            ],
        )
        .forbid(&["AUTH"]),
    );
    // Rule 3: no password in plaintext, whatever the server offers.
    v.push(
        case(
            "starttls/plaintext-auth-refused",
            format!("{open}BYE\n"),
            &[
                (Connect, "ok"),
                (Login("u", "secret"), "Usage(PlaintextAuthRefused(*"),
            ],
        )
        .forbid(&["AUTH", "c2VjcmV0"]),
    );
}

// ------------------------------------------------------------ caller input

fn caller_input(v: &mut Vec<Case>) {
    use Call::*;
    // Every call must fail before writing: the scenario's next expected
    // bytes are QUIT's.
    let bad: Vec<(&str, Call)> = vec![
        (
            "from-crlf",
            sendmail("a@x.test\r\nRCPT TO:<evil@x.test>", &["b@x.test"], b"x"),
        ),
        ("from-lf", sendmail("a@x.test\nRSET", &["b@x.test"], b"x")),
        ("from-cr", sendmail("a@x.test\rRSET", &["b@x.test"], b"x")),
        ("from-nul", sendmail("a\0@x.test", &["b@x.test"], b"x")),
        ("from-c0", sendmail("a\x01@x.test", &["b@x.test"], b"x")),
        ("from-del", sendmail("a\x7f@x.test", &["b@x.test"], b"x")),
        (
            "from-param-smuggling",
            sendmail("a@x.test> SIZE=1", &["b@x.test"], b"x"),
        ),
        (
            "from-space-param",
            sendmail("a@x.test SIZE=1", &["b@x.test"], b"x"),
        ),
        ("to-crlf", sendmail("a@x.test", &["b@x.test\r\nDATA"], b"x")),
        (
            "to-param-smuggling",
            sendmail("a@x.test", &["<b@x.test> NOTIFY=NEVER"], b"x"),
        ),
        ("to-angle", sendmail("a@x.test", &["b@x.test>"], b"x")),
        (
            "to-quoted-crlf",
            sendmail("a@x.test", &["\"b\r\nc\"@x.test"], b"x"),
        ),
        (
            "to-quoted-nul",
            sendmail("a@x.test", &["\"b\0c\"@x.test"], b"x"),
        ),
        (
            "to-second-bad",
            sendmail("a@x.test", &["b@x.test", "c@x.test\n"], b"x"),
        ),
        (
            "mail-option-crlf",
            sendmail_opts(
                "a@x.test",
                &["b@x.test"],
                b"x",
                &["BODY=8BITMIME\r\nRSET"],
                &[],
            ),
        ),
        (
            "rcpt-option-lf",
            sendmail_opts(
                "a@x.test",
                &["b@x.test"],
                b"x",
                &[],
                &["NOTIFY=NEVER\nRSET"],
            ),
        ),
        ("mail-crlf", Mail(s("a@x.test\r\n"), vec![])),
        ("mail-option-nul", Mail(s("a@x.test"), vec![s("X=\0")])),
        ("docmd-args-crlf", Docmd(s("NOOP"), s("x\r\nRSET"))),
        ("docmd-args-lf", Docmd(s("NOOP"), s("x\nRSET"))),
        ("docmd-verb-cr", Docmd(s("NO\rOP"), s(""))),
        ("docmd-nul", Docmd(s("NOOP"), s("\0"))),
        ("verify-crlf", Verify(s("a\r\nRSET"))),
        ("verify-del", Verify(s("a\x7f"))),
        ("expn-lf", Expn(s("list\nRSET"))),
        ("help-cr", Help(Some(s("x\rRSET")))),
    ];
    for (name, call) in bad {
        let want = match &call {
            Docmd(..) | Verify(_) | Expn(_) | Help(_) => "Usage(InvalidCommand(ForbiddenByte {*",
            _ => "InvalidArgument(*",
        };
        v.push(
            case(
                format!("input/{name}"),
                format!("{HELLO}C: NOOP\nS: 250 ok\nBYE\n"),
                &[(Connect, "ok"), (call, want), (Noop, "ok 250")],
            )
            .forbid(&["RSET", "evil", "DATA", "NOTIFY", "SIZE"]),
        );
    }
    for name in [
        "client\r\n.test",
        "client.test\nMAIL",
        "a\0b.test",
        "a b.test",
        "a\x7f.test",
    ] {
        v.push(case(
            format!("input/ehlo-name-{}", name.escape_default()),
            format!("{HELLO}BYE\n"),
            &[(Connect, "ok"), (ParseDomain(s(name)), "AddressError(*")],
        ));
    }
    // Rule 5: body smuggling: the only end of data on the wire is ours.
    v.push(case(
        "input/body-smuggling",
        format!(
            "{HELLO}C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 250 ok\nC: DATA\nS: 354 go\n\
             C: x\\r\\n..\\r\\ny\\r\\n..\\r\\nz\\r\\n..\\r\\nw\\r\\n..MAIL FROM:<e@x.test>\\r\\n.\nS: 250 queued\nBYE\n"
        ),
        &[
            (Connect, "ok"),
            (
                sendmail("a@x.test", &["b@x.test"], b"x\n.\ny\r.\r\nz\r\n.\rw\r\n.MAIL FROM:<e@x.test>"),
                "ok []",
            ),
        ],
    ));
}

// ----------------------------------------------------------------- replies

fn replies(v: &mut Vec<Case>) {
    use Call::*;
    v.push(
        case(
            "reply/endless-line",
            "S: 220 peer.test\nC: EHLO client.test\nR+ 250-\nFLOOD~ 20000 xxxxxxxxxx\nDRAIN\n",
            &[(Connect, "Protocol(LineTooLong)")],
        )
        .forbid(&["QUIT"]),
    );
    v.push(
        case(
            "reply/endless-continuation",
            "S: 220 peer.test\nC: EHLO client.test\nFLOOD 200000 250-x\nDRAIN\n",
            &[(Connect, "Protocol(TooManyLines)")],
        )
        .forbid(&["QUIT"]),
    );
    v.push(
        case(
            "reply/endless-greeting",
            "FLOOD 200000 220-still greeting you\nDRAIN\n",
            &[(Connect, "Protocol(TooManyLines)")],
        )
        .forbid(&["EHLO"]),
    );
    for (name, line, want) in [
        ("four-digit-code", "2500 ok", "Protocol(InvalidCode)"),
        ("code-600", "600 ok", "Protocol(InvalidCode)"),
        ("code-260", "260 ok", "Protocol(InvalidCode)"),
        ("two-digit-code", "25 ok", "Protocol(InvalidCode)"),
        ("letters", "hello there", "Protocol(InvalidCode)"),
        ("bad-separator", "250xok", "Protocol(InvalidSeparator)"),
        ("bare-lf", "250 ok\\n", "Protocol(BareLf)"),
        (
            "mismatched-codes",
            "250-a\\r\\n251 b",
            "Protocol(InconsistentCodes)",
        ),
        (
            "mismatched-class",
            "250-a\\r\\n550 b",
            "Protocol(InconsistentCodes)",
        ),
    ] {
        v.push(
            case(
                format!("reply/{name}"),
                format!("{HELLO}C: NOOP\nS: {line}\nEND\n"),
                &[(Connect, "ok"), (Noop, want), (Noop, "Poisoned")],
            )
            .forbid(&["QUIT"]),
        );
    }
    for (name, line) in [
        ("code-only", "250"),
        ("code-space", "250\\s"),
        ("non-utf8", "250 \\xff\\xfe\\x80 ok"),
        ("multi-line", "250-a\\r\\n250-\\r\\n250 c"),
    ] {
        v.push(case(
            format!("reply/{name}"),
            format!("{HELLO}C: NOOP\nS: {line}\nBYE\n"),
            &[(Connect, "ok"), (Noop, "ok 250")],
        ));
    }
    // Rule 6: a reply with no outstanding command.
    v.push(
        case(
            "reply/unsolicited-after-ehlo",
            "S: 220 peer.test\nC: EHLO client.test\nS+ 250 peer.test\nS: 250 unsolicited\nEND\n",
            &[(Connect, "Protocol(UnexpectedReply(250))")],
        )
        .forbid(&["QUIT"]),
    );
    v.push(
        case(
            "reply/unsolicited-while-idle",
            format!("{HELLO}STALL 300ms\nS: 250 unsolicited\nEND\n"),
            &[
                (Connect, "ok"),
                (Sleep(Duration::from_millis(700)), "ok"),
                (Noop, "Protocol(UnexpectedReply(250))"),
            ],
        )
        .forbid(&["QUIT", "NOOP"]),
    );
    v.push(case(
        "reply/unsolicited-421-while-idle",
        format!("{HELLO}STALL 300ms\nS: 421 4.4.2 idle too long\nDRAIN\n"),
        &[
            (Connect, "ok"),
            (Sleep(Duration::from_millis(700)), "ok"),
            (Noop, "ServiceClosing(*"),
            (Noop, "Poisoned"),
        ],
    ));
    v.push(
        case(
            "reply/unsolicited-before-greeting-ends",
            "S+ 220 peer.test\nS: 250 early\nEND\n",
            &[(Connect, "Protocol(UnexpectedReply(250))")],
        )
        .forbid(&["EHLO", "QUIT"]),
    );
    // Rule 8: too many replies while pipelining.
    v.push(
        case(
            "reply/too-many-while-pipelining",
            format!(
                "{HELLO_PIPE}C: MAIL FROM:<a@x.test>\\r\\nRCPT TO:<b@x.test>\\r\\nDATA\nS: 250 ok\\r\\n250 ok\\r\\n354 go\\r\\n250 extra\nEND\n"
            ),
            &[(Connect, "ok"), (simple(), "Protocol(UnexpectedReply(250))"), (Noop, "Poisoned")],
        )
        .forbid(&["Subject", "QUIT"]),
    );
    v.push(
        case(
            "reply/garbage-while-pipelining",
            format!(
                "{HELLO_PIPE}C: MAIL FROM:<a@x.test>\\r\\nRCPT TO:<b@x.test>\\r\\nDATA\nS: 250 ok\\r\\nwhat is this\\r\\n354 go\nEND\n"
            ),
            &[(Connect, "ok"), (simple(), "Protocol(InvalidCode)"), (Noop, "Poisoned")],
        )
        .forbid(&["Subject", "QUIT"]),
    );
    // Odd EHLO replies and greetings.
    let mut mechs = String::from("250 AUTH");
    for i in 0..300 {
        mechs.push_str(&format!(" X-M{i}"));
    }
    v.push(case(
        "reply/ehlo-odd-keywords",
        format!(
            "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS+ 250-pipelining\nS+ 250-size 100\nS+ 250-AUTH=LOGIN PLAIN\nS: {mechs}\nBYE\n"
        ),
        &[
            (Connect, "ok"),
            (HasExtn("PIPELINING"), "true"),
            (HasExtn("SIZE"), "true"),
            (HasExtn("AUTH"), "true"),
        ],
    ));
    v.push(case(
        "reply/greeting-multiline-code-only",
        "S+ 220-peer.test\nS+ 220-\nS: 220\nC: EHLO client.test\nS: 250 peer.test\nBYE\n",
        &[(Connect, "ok")],
    ));
    v.push(
        case(
            "reply/greeting-354",
            "S: 354 what\nDRAIN\n",
            &[(Connect, "Protocol(BadGreeting(354))")],
        )
        .forbid(&["EHLO", "MAIL"]),
    );
}

// ------------------------------------------------------------------ faults

fn faults(v: &mut Vec<Case>) {
    use Call::*;
    let auth_open = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH PLAIN\n";
    // (phase, scenario before the fault, calls before the faulted one, the
    // faulted call, the stage it names, outcome unknown?)
    struct Phase {
        name: &'static str,
        before: String,
        setup_calls: Vec<(Call, &'static str)>,
        call: Call,
        stage: &'static str,
        plaintext_auth: bool,
    }
    let txn = |upto: usize| -> String {
        let all = [
            "C: MAIL FROM:<a@x.test>",
            "S: 250 ok",
            "C: RCPT TO:<b@x.test>",
            "S: 250 ok",
            "C: DATA",
            "S: 354 go",
            &format!("C: {BODY_WIRE}"),
            "S: 250 queued",
            "C: QUIT",
        ];
        let mut t = String::from(HELLO);
        for l in &all[..upto] {
            t.push_str(l);
            t.push('\n');
        }
        t
    };
    // A PRDR transaction to two recipients, pipelined, up to `replies` of
    // the replies after the end of data (353, b's, c's, the message's).
    let prdr = |replies: usize| -> String {
        let mut t = String::from(
            "S: 220 peer.test ESMTP\nC: EHLO client.test\n\
             S+ 250-peer.test\nS+ 250-PIPELINING\nS: 250 PRDR\n\
             C: MAIL FROM:<a@x.test> PRDR\nC: RCPT TO:<b@x.test>\n\
             C: RCPT TO:<c@x.test>\nC: DATA\n\
             S+ 250 ok\nS+ 250 ok\nS+ 250 ok\nS: 354 go\n",
        );
        t.push_str(&format!("C: {BODY_WIRE}\n"));
        for l in ["S: 353 go", "S: 250 b ok", "S: 250 c ok"]
            .iter()
            .take(replies)
        {
            t.push_str(l);
            t.push('\n');
        }
        t
    };
    let prdr_call = || {
        sendmail(
            "a@x.test",
            &["b@x.test", "c@x.test"],
            b"Subject: x\r\n\r\nhi\r\n",
        )
    };
    let phases = vec![
        Phase {
            name: "greeting",
            before: String::new(),
            setup_calls: vec![],
            call: Connect,
            stage: "Some(Greeting)",
            plaintext_auth: false,
        },
        Phase {
            name: "ehlo",
            before: s("S: 220 peer.test\nC: EHLO client.test\n"),
            setup_calls: vec![],
            call: Connect,
            stage: "Some(Hello)",
            plaintext_auth: false,
        },
        Phase {
            name: "auth",
            before: format!("{auth_open}C: AUTH PLAIN AHUAcA==\n"),
            setup_calls: vec![(Connect, "ok")],
            call: Login("u", "p"),
            stage: "Some(Auth)",
            plaintext_auth: true,
        },
        Phase {
            name: "mail",
            before: txn(1),
            setup_calls: vec![(Connect, "ok")],
            call: simple(),
            stage: "Some(Mail)",
            plaintext_auth: false,
        },
        Phase {
            name: "rcpt",
            before: txn(3),
            setup_calls: vec![(Connect, "ok")],
            call: simple(),
            stage: "Some(Rcpt)",
            plaintext_auth: false,
        },
        Phase {
            name: "data",
            before: txn(5),
            setup_calls: vec![(Connect, "ok")],
            call: simple(),
            stage: "Some(DataInit)",
            plaintext_auth: false,
        },
        Phase {
            name: "after-dot",
            before: txn(7),
            setup_calls: vec![(Connect, "ok")],
            call: simple(),
            stage: "Some(DataEnd)",
            plaintext_auth: false,
        },
        // PRDR: inside the replies after the end of data, after the 353
        // and one recipient's reply, and before the message's own reply.
        Phase {
            name: "prdr-recipients",
            before: prdr(2),
            setup_calls: vec![(Connect, "ok")],
            call: prdr_call(),
            stage: "Some(DataEnd)",
            plaintext_auth: false,
        },
        Phase {
            name: "prdr-message",
            before: prdr(3),
            setup_calls: vec![(Connect, "ok")],
            call: prdr_call(),
            stage: "Some(DataEnd)",
            plaintext_auth: false,
        },
        Phase {
            name: "quit-after-250",
            before: txn(9),
            setup_calls: vec![(Connect, "ok"), (simple(), "ok []")],
            call: Quit,
            stage: "Some(Quit)",
            plaintext_auth: false,
        },
    ];
    for p in &phases {
        let unknown = p.stage == "Some(DataEnd)";
        let wrap = |inner: String| {
            if unknown {
                format!("OutcomeUnknown({inner})")
            } else {
                inner
            }
        };
        let after = |c: &Call| -> Vec<(Call, String)> {
            // After the faulted call the connection is unusable.
            match c {
                Quit => vec![],
                _ if p.name == "greeting" || p.name == "ehlo" => vec![],
                _ => vec![(Noop, s("Poisoned"))],
            }
        };
        let mk = |kind: &str, step: &str, want: String, short: Option<u64>| {
            let mut calls: Vec<(Call, String)> = p
                .setup_calls
                .iter()
                .map(|(c, e)| (c.clone(), s(e)))
                .collect();
            calls.push((p.call.clone(), want));
            calls.extend(after(&p.call));
            let mut c = Case {
                name: format!("fault/{kind}/{}", p.name),
                scn: format!("{}{step}", p.before),
                setup: Setup {
                    plaintext_auth: p.plaintext_auth,
                    ..Setup::default()
                },
                calls,
                forbid: vec![],
                budget: Duration::from_secs(4),
                finding: None,
                finding_in: &[],
            };
            if let Some(ms) = short {
                c = c.short(ms);
            }
            c
        };
        // EOF (FIN).
        let eof = if p.name == "greeting" {
            // Before any greeting the client has nothing to lose.
            s("ServerDisconnected(Some(Greeting))")
        } else {
            wrap(format!("ServerDisconnected({})", p.stage))
        };
        v.push(mk("eof", "CLOSE\n", eof, None));
        // RST.
        let rst = wrap(s("Io(ConnectionReset)"));
        v.push(mk("rst", "RESET\n", rst, None));
        // 421.
        let stage = p.stage.trim_start_matches("Some(").trim_end_matches(')');
        let closing = match p.name {
            "greeting" => s("ConnectError(421)"),
            // QUIT's reply is returned as it is, 421 included.
            "quit-after-250" => s("ok 421"),
            _ => format!("ServiceClosing({stage}, 421)"),
        };
        v.push(mk("421", "S: 421 4.3.2 closing\nEND\n", closing, None));
        // Stall. A greeting that never comes at all says what is likely
        // wrong (a TLS port reached without TLS).
        let timeout = wrap(format!("Timeout({})", p.stage));
        let stalled = if p.name == "greeting" {
            s("NoGreeting")
        } else {
            timeout.clone()
        };
        v.push(mk("stall", "STALL 1500ms\nEND\n", stalled, Some(300)));
        // Slow drip: a byte every 60 ms never extends the deadline.
        v.push(mk(
            "drip",
            "DRIP 60ms 250-this reply never ends in time\nEND\n",
            timeout,
            Some(400),
        ));
    }
    // rules 8 and 10: an early 552 while the body is being written.
    v.push(case(
        "fault/early-552-mid-body",
        "INCLUDE early-552-mid-body",
        &[
            (Connect, "ok"),
            (
                sendmail("a@x.test", &["b@x.test"], &[b'x'; 8 << 20]),
                "DataError(552) | Protocol(UnexpectedReply(552))",
            ),
            (Noop, "Poisoned"),
        ],
    ));
    v.push(
        case(
            "fault/early-552-then-stop-reading",
            "INCLUDE _hello\nC: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 250 ok\n\
             C: DATA\nS: 354 go\nC* xxxxxxxxxxxxxxxx\nS: 552 5.3.4 message too big\nSTALL 2s\nCLOSE\n",
            &[
                (Connect, "ok"),
                (
                    sendmail("a@x.test", &["b@x.test"], &[b'x'; 8 << 20]),
                    "DataError(552) | Protocol(UnexpectedReply(552))",
                ),
                (Noop, "Poisoned"),
            ],
        )
        .short(400)
    );
}

// ------------------------------------------------- deep pipelining faults

/// Faults with 1, 2 and 5 messages in flight. A batch of `1 + n` messages
/// over PIPELINING and CHUNKING: message 0 opens the connection's first
/// transaction (its data waits for the MAIL and RCPT replies, then its 250
/// lets later data travel behind unconfirmed commands), then the server
/// reads until the data of message `n` has arrived (`n` messages wholly
/// on the wire, none answered) and fails: each of them ends with exactly
/// one outcome, unknown (its end of data was sent and never answered),
/// within the deadline (the case's budget), and nothing is written after
/// the fault (`END`, and no QUIT, RSET or NOOP).
fn in_flight(v: &mut Vec<Case>) {
    use Call::*;
    for n in [1usize, 2, 5] {
        let before = format!(
            "{HELLO_PIPE_CHUNKING}C* RCPT TO:<r0@x.test>\\r\\n\nS: 250 ok\\r\\n250 ok\n\
             C* Subject: m0\\r\\n\\r\\nhi\\r\\n\nS: 250 ok\n\
             C* Subject: m{n}\\r\\n\\r\\nhi\\r\\n\n"
        );
        // Each message in flight keeps its report, outcome unknown (a
        // report, not an error: with LMTP or PRDR it can hold recipients
        // that did get the message); the fault itself poisons the
        // connection.
        let want = {
            let mut all = vec![s("ok")];
            all.extend((0..n).map(|_| s("report(outcome unknown)")));
            format!("[{}]", all.join("; "))
        };
        let kinds: [(&str, &str, Option<u64>); 5] = [
            ("eof", "CLOSE\n", None),
            ("rst", "RESET\n", None),
            ("421", "S: 421 4.3.2 closing\nEND\n", None),
            ("stall", "STALL 1500ms\nEND\n", Some(300)),
            (
                "drip",
                "DRIP 60ms 250-this reply never ends in time\nEND\n",
                Some(400),
            ),
        ];
        for (kind, step, short) in kinds {
            let mut c = case(
                format!("inflight/{kind}/{n}"),
                format!("{before}{step}"),
                &[
                    (Connect, "ok"),
                    (SendMany(n + 1), &want),
                    (Noop, "Poisoned"),
                ],
            )
            .forbid(&["QUIT", "RSET", "NOOP"]);
            if let Some(ms) = short {
                c = c.short(ms);
            }
            v.push(c);
        }
    }
}

// ------------------------------------------------------------ transactions

fn transactions(v: &mut Vec<Case>) {
    use Call::*;
    let two = ["b@x.test", "c@x.test"];
    let body = b"Subject: x\r\n\r\nhi\r\n";
    v.push(case(
        "txn/partial-recipients-pipelined",
        format!(
            "{HELLO_PIPE}C: MAIL FROM:<a@x.test>\\r\\nRCPT TO:<b@x.test>\\r\\nRCPT TO:<c@x.test>\\r\\nDATA\n\
             S: 250 ok\\r\\n550 5.1.1 no b\\r\\n250 ok\\r\\n354 go\nC: {BODY_WIRE}\nS: 250 queued\nBYE\n"
        ),
        &[(Connect, "ok"), (sendmail("a@x.test", &two, body), "ok [b@x.test=550]")],
    ));
    // After a refusal the session goes on: smtp-blocking queues an RSET
    // without waiting for its reply, smtp-tokio leaves it to the next
    // transaction; neither sends QUIT when dropped with a reply pending.
    v.push(
        case(
            "txn/all-refused-lock-step",
            format!(
                "{HELLO}C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 550 no b\nC: RCPT TO:<c@x.test>\nS: 450 later c\nDRAIN\n"
            ),
            &[
                (Connect, "ok"),
                (sendmail("a@x.test", &two, body), "RecipientsRefused[b@x.test=550,c@x.test=450]"),
            ],
        )
        .forbid(&["DATA", "Subject"]),
    );
    // All refused but the server says 354 anyway: a lone "." and nothing else.
    v.push(
        case(
            "txn/all-refused-pipelined-354",
            format!(
                "{HELLO_PIPE}C: MAIL FROM:<a@x.test>\\r\\nRCPT TO:<b@x.test>\\r\\nDATA\nS: 250 ok\\r\\n550 no b\\r\\n354 go\nC: .\nS: 554 no valid recipients\nBYE\n"
            ),
            &[(Connect, "ok"), (simple(), "RecipientsRefused[b@x.test=550]")],
        )
        .forbid(&["Subject"]),
    );
    v.push(
        case(
            "txn/mail-refused-with-pipelined-rcpts",
            format!(
                "{HELLO_PIPE}C: MAIL FROM:<a@x.test>\\r\\nRCPT TO:<b@x.test>\\r\\nDATA\nS: 550 no a\\r\\n503 need MAIL\\r\\n503 need MAIL\nBYE\n"
            ),
            &[(Connect, "ok"), (simple(), "SenderRefused(550)")],
        )
        .forbid(&["Subject"]),
    );
    v.push(
        case(
            "txn/data-refused",
            format!(
                "{HELLO}C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 250 ok\nC: DATA\nS: 554 no data today\nDRAIN\n"
            ),
            &[(Connect, "ok"), (simple(), "DataError(554)")],
        )
        .forbid(&["Subject"]),
    );
    v.push(case(
        "txn/bdat-chunk-refused",
        "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 CHUNKING\n\
         C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 250 ok\n\
         C: BDAT 18 LAST\nC* hi\\r\\n\nS: 552 5.3.4 too big\nBYE\n",
        &[(Connect, "ok"), (simple(), "DataError(552)")],
    ));
    // LMTP: one reply per accepted recipient, in order.
    let lmtp_open = "S: 220 peer.test LMTP\nC: LHLO client.test\nS+ 250-peer.test\nS: 250 PIPELINING\n\
                     C: MAIL FROM:<a@x.test>\\r\\nRCPT TO:<b@x.test>\\r\\nRCPT TO:<c@x.test>\\r\\nDATA\n";
    let lmtp = |name: &str, replies: &str, tail: &str, calls: &[(Call, &str)]| {
        case(
            format!("txn/lmtp-{name}"),
            format!("{lmtp_open}S: 250 ok\\r\\n250 ok\\r\\n250 ok\\r\\n354 go\nC: {BODY_WIRE}\n{replies}{tail}"),
            calls,
        )
        .setup(|s| s.lmtp = true)
    };
    v.push(lmtp(
        "mixed-final-replies",
        "S: 250 2.0.0 b ok\\r\\n452 4.2.2 c over quota\n",
        "BYE\n",
        &[
            (Connect, "ok"),
            (sendmail("a@x.test", &two, body), "ok [c@x.test=452]"),
        ],
    ));
    v.push(
        lmtp(
            "too-many-final-replies",
            "S: 250 b ok\\r\\n250 c ok\\r\\n250 surplus\n",
            "END\n",
            &[
                (Connect, "ok"),
                (
                    sendmail("a@x.test", &two, body),
                    "Protocol(UnexpectedReply(250))",
                ),
                (Noop, "Poisoned"),
            ],
        )
        .forbid(&["QUIT"]),
    );
    v.push(lmtp(
        "too-few-final-replies-then-eof",
        "S: 250 b ok\n",
        "CLOSE\n",
        &[
            (Connect, "ok"),
            (
                sendmail("a@x.test", &two, body),
                "OutcomeUnknown(ServerDisconnected(Some(DataEnd)))",
            ),
            (Noop, "Poisoned"),
        ],
    ));
    // Rule 5: fail fast before MAIL.
    v.push(
        case(
            "txn/size-exceeded-before-mail",
            "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 SIZE 10\nBYE\n",
            &[(Connect, "ok"), (simple(), "Usage(MessageTooLarge*")],
        )
        .forbid(&["MAIL"]),
    );
    v.push(
        case(
            "txn/8bit-without-8bitmime",
            "S: 220 peer.test\nC: EHLO client.test\nS: 250 peer.test\nBYE\n",
            &[
                (Connect, "ok"),
                (
                    sendmail(
                        "a@x.test",
                        &["b@x.test"],
                        "Subject: x\r\n\r\nh\u{e9}\r\n".as_bytes(),
                    ),
                    "Usage(ExtensionNotAdvertised(\"8BITMIME\"))",
                ),
            ],
        )
        .forbid(&["MAIL", "h\u{e9}"]),
    );
    v.push(
        case(
            "txn/smtputf8-not-offered",
            "S: 220 peer.test\nC: EHLO client.test\nS: 250 peer.test\nBYE\n",
            &[
                (Connect, "ok"),
                (
                    sendmail("a@x.test", &["j\u{f6}rg@x.test"], body),
                    "Usage(ExtensionNotAdvertised(\"SMTPUTF8\"))",
                ),
            ],
        )
        .forbid(&["MAIL", "j\u{f6}rg"]),
    );
    v.push(
        case(
            "txn/requiretls-not-offered",
            "S: 220 peer.test\nC: EHLO client.test\nS: 250 peer.test\nBYE\n",
            &[
                (Connect, "ok"),
                (
                    sendmail_opts("a@x.test", &["b@x.test"], body, &["REQUIRETLS"], &[]),
                    "Usage(ExtensionNotAdvertised(\"REQUIRETLS\"))",
                ),
            ],
        )
        .forbid(&["MAIL", "REQUIRETLS"]),
    );
    // Rule 11: AUTH abuse.
    let auth_open = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH PLAIN\nC: AUTH PLAIN AHUAcA==\n";
    let login_open = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH LOGIN\nC: AUTH LOGIN\n";
    let auth = |name: &str, scn: String, want: &str| {
        case(
            format!("txn/auth-{name}"),
            scn,
            &[(Connect, "ok"), (Login("u", "p"), want)],
        )
        .setup(|s| s.plaintext_auth = true)
    };
    // A refusal that judges the credentials (535) ends login: another
    // mechanism would only add an attempt towards a lock-out.
    v.push(
        auth(
            "535-stops-at-the-first-mechanism",
            "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH PLAIN LOGIN\n\
             C: AUTH PLAIN AHUAcA==\nS: 535 5.7.8 credentials invalid\nBYE\n"
                .to_owned(),
            "AuthenticationError(PLAIN, 535)",
        )
        .forbid(&["AUTH LOGIN"]),
    );
    // A mechanism the server does not support (504) lets login try the next.
    v.push(auth(
        "504-tries-the-next-mechanism",
        "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH PLAIN LOGIN\n\
         C: AUTH PLAIN AHUAcA==\nS: 504 5.5.4 unrecognized type\nC: AUTH LOGIN\n\
         S: 334 VXNlcm5hbWU6\nC: dQ==\nS: 334 UGFzc3dvcmQ6\nC: cA==\nS: 235 2.7.0 ok\nBYE\n"
            .to_owned(),
        "ok 235",
    ));
    v.push(auth(
        "503",
        format!("{auth_open}S: 503 5.5.1 already authenticated\nBYE\n"),
        "AuthenticationError(PLAIN, 503)",
    ));
    v.push(
        auth(
            "extra-334-after-plain",
            format!("{auth_open}S: 334\\s\nC: *\nS: 501 cancelled\nBYE\n"),
            "AuthenticationError(PLAIN, 501)",
        )
        .forbid(&["AHUAcA==\r\nAHUAcA=="]),
    );
    v.push(auth(
        "invalid-base64",
        format!("{login_open}S: 334 !!!not base64!!!\nC: *\nS: 501 cancelled\nBYE\n"),
        "AuthenticationError(LOGIN, 501)",
    ));
    v.push(auth(
        "credentials-not-resent",
        format!(
            "{login_open}S: 334 VXNlcm5hbWU6\nC: dQ==\nS: 334 UGFzc3dvcmQ6\nC: cA==\nS: 334 UGFzc3dvcmQ6\nC: *\nS: 501 cancelled\nBYE\n"
        ),
        "AuthenticationError(LOGIN, 501)",
    ));
    // Bounded rounds (default 5) even for a caller who always answers.
    let mut endless = String::from(
        "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH X-TEST\nC: AUTH X-TEST\n",
    );
    for _ in 0..5 {
        endless.push_str("S: 334 bW9yZQ==\nC: YQ==\n");
    }
    endless.push_str("S: 334 bW9yZQ==\nC: *\nS: 501 enough\nBYE\n");
    let mut endless_case = case(
        "txn/auth-endless-334",
        endless,
        &[
            (Connect, "ok"),
            (AuthEcho, "AuthenticationError(X-TEST, 501)"),
        ],
    );
    // No TLS here: AUTH of any mechanism needs the caller's opt-in.
    endless_case.setup.plaintext_auth = true;
    v.push(endless_case);
}
