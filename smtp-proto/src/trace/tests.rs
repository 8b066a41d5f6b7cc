//! The trace is where redaction happens, so these tests run real AUTH
//! exchanges through a [`Client`] and mark writes the way the adapters do,
//! then check that no password, token or base64 blob the wire carried is in
//! the trace.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{MAX_PARTIAL, Sent, Trace};
use crate::auth::{Authenticator, CramMd5, Login, Plain, ScramSha256, XOAuth2};
use crate::{Client, Config, Event};

/// A fixed wall-clock time: 01:01:01.123456 UTC on day two.
fn at() -> SystemTime {
    UNIX_EPOCH + Duration::new(86_400 + 3_661, 123_456_789)
}

fn text(out: &[u8]) -> String {
    String::from_utf8(out.to_vec()).unwrap()
}

/// A trace writing into memory.
type Mem = Trace<Vec<u8>>;

/// What the trace wrote since the last call.
fn shown(trace: &mut Mem) -> String {
    text(&std::mem::take(trace.get_mut()))
}

/// What a session wrote on the wire and what its level-1 trace showed.
struct Session {
    wire: String,
    trace: Mem,
}

impl Session {
    /// Drives the client's pending output onto the "wire" and into the
    /// trace, marked `kind`, as the adapters' drivers do.
    fn flush(&mut self, client: &mut Client, kind: Sent) {
        let mut out = Vec::new();
        while client.poll_transmit(Instant::now(), &mut out) > 0 {}
        self.trace.sent(&out, kind, at());
        self.wire.push_str(&text(&out));
    }

    /// Feeds one server reply to the client and the trace, and returns the
    /// events it caused.
    fn reply(&mut self, client: &mut Client, bytes: &str) -> Vec<Event> {
        self.trace.received(bytes.as_bytes(), at());
        client
            .handle_input(Instant::now(), bytes.as_bytes())
            .unwrap();
        std::iter::from_fn(|| client.poll_event()).collect()
    }
}

/// Greeting, EHLO, then one AUTH exchange with `auth` against the server
/// `replies` (one per round trip after the AUTH command).
fn authenticate(auth: &mut dyn Authenticator, replies: &[&str]) -> Session {
    let mut s = Session {
        wire: String::new(),
        trace: Trace::new(1, Vec::new()),
    };
    let mut client = Client::new(Config::default(), Instant::now());
    client.set_tls(true);
    let _ = s.reply(&mut client, "220 mx ready\r\n");
    s.flush(&mut client, Sent::Commands);
    if s.wire.is_empty() {
        let _ = client.ehlo().unwrap();
        s.flush(&mut client, Sent::Commands);
    }
    let _ = s.reply(
        &mut client,
        "250-mx\r\n250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 SCRAM-SHA-256\r\n",
    );
    let initial = auth.initial_response();
    let _ = client.auth(auth.mechanism(), initial).unwrap();
    s.flush(&mut client, Sent::Commands);
    for r in replies {
        for event in s.reply(&mut client, r) {
            if let Event::AuthChallenge { challenge, .. } = event {
                match auth.respond(challenge.expose()) {
                    Some(answer) => {
                        client.auth_respond(answer).unwrap();
                        s.flush(&mut client, Sent::Secret);
                    }
                    None => {
                        client.auth_cancel().unwrap();
                        s.flush(&mut client, Sent::Commands);
                    }
                }
            }
        }
    }
    s
}

/// Every client line from `AUTH` on carries a credential somewhere: none of
/// its words but the verb and mechanism, and none of `secrets` (raw or
/// base64), may be in the trace.
fn assert_redacted(s: &Session, secrets: &[&str]) {
    let trace = text(s.trace.get_ref());
    let auth_at = s.wire.find("AUTH ").unwrap();
    let mut blobs: Vec<String> = s.wire[auth_at..]
        .split_ascii_whitespace()
        .skip(2)
        .filter(|w| *w != "*")
        .map(str::to_owned)
        .collect();
    assert!(
        !blobs.is_empty(),
        "the exchange sent no credential: {}",
        s.wire
    );
    for secret in secrets {
        blobs.push((*secret).to_owned());
        blobs.push(STANDARD.encode(secret));
    }
    for blob in &blobs {
        assert!(
            !trace.contains(blob.as_str()),
            "{blob:?} leaked into\n{trace}"
        );
    }
}

fn client_lines(s: &Session) -> Vec<String> {
    let trace = text(s.trace.get_ref());
    trace
        .lines()
        .filter(|l| l.starts_with("C: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn plain_shows_the_mechanism_only() {
    let mut plain = Plain::new("tim", "tanstaaftanstaaf");
    let s = authenticate(&mut plain, &["235 2.7.0 ok\r\n"]);
    assert!(
        s.wire
            .contains("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
    );
    assert_eq!(
        client_lines(&s),
        ["C: EHLO localhost", "C: AUTH PLAIN <redacted>"]
    );
    assert_redacted(&s, &["tanstaaftanstaaf", "tim\0tanstaaftanstaaf"]);
}

#[test]
fn login_answers_are_redacted() {
    let mut login = Login::new("tim", "tanstaaftanstaaf");
    let s = authenticate(
        &mut login,
        &[
            "334 VXNlcm5hbWU6\r\n",
            "334 UGFzc3dvcmQ6\r\n",
            "235 2.7.0 ok\r\n",
        ],
    );
    assert!(s.wire.contains(&STANDARD.encode("tanstaaftanstaaf")));
    assert_eq!(
        client_lines(&s),
        [
            "C: EHLO localhost",
            "C: AUTH LOGIN",
            "C: <redacted>",
            "C: <redacted>"
        ]
    );
    assert_redacted(&s, &["tanstaaftanstaaf"]);
    // The server's challenges are not secret and stay visible.
    assert!(text(s.trace.get_ref()).contains("S: 334 VXNlcm5hbWU6\n"));
}

#[test]
fn scram_messages_are_redacted() {
    // RFC 7677 §3's exchange: client-first (user name, nonce) on the AUTH
    // line, client-final (the proof) and the empty answer to server-final.
    let mut scram = ScramSha256::with_nonce("user", "pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
    let server_first = STANDARD.encode(
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    );
    let server_final = STANDARD.encode("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    let s = authenticate(
        &mut scram,
        &[
            &format!("334 {server_first}\r\n"),
            &format!("334 {server_final}\r\n"),
            "235 2.7.0 ok\r\n",
        ],
    );
    assert_eq!(scram.finish(), Ok(()));
    let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    assert!(s.wire.contains(&STANDARD.encode(format!(
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p={proof}"
    ))));
    assert_eq!(
        client_lines(&s),
        [
            "C: EHLO localhost",
            "C: AUTH SCRAM-SHA-256 <redacted>",
            "C: <redacted>",
            "C: <redacted>"
        ]
    );
    assert_redacted(&s, &["pencil", proof, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"]);
}

#[test]
fn cram_md5_digest_is_redacted() {
    let mut cram = CramMd5::new("tim", "tanstaaftanstaaf");
    let challenge = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
    let s = authenticate(
        &mut cram,
        &[&format!("334 {challenge}\r\n"), "235 2.7.0 ok\r\n"],
    );
    // RFC 2195's example answer is on the wire, not in the trace.
    let answer = STANDARD.encode("tim b913a602c7eda7a495b4e6e7334d3890");
    assert!(s.wire.contains(&answer));
    assert_eq!(
        client_lines(&s),
        ["C: EHLO localhost", "C: AUTH CRAM-MD5", "C: <redacted>"]
    );
    assert_redacted(
        &s,
        &["tanstaaftanstaaf", "b913a602c7eda7a495b4e6e7334d3890"],
    );
}

#[test]
fn xoauth2_token_is_redacted_even_after_an_error_challenge() {
    let mut xoauth = XOAuth2::new(
        "tim@example.org",
        "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
    );
    // RFC-less but real: Google answers a bad token with a 334 carrying a
    // JSON error, and the client answers with an empty line.
    let s = authenticate(
        &mut xoauth,
        &[
            "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n",
            "535 5.7.8 bad token\r\n",
        ],
    );
    assert!(s.wire.contains("AUTH XOAUTH2 "));
    let lines = client_lines(&s);
    assert_eq!(
        lines[..2],
        ["C: EHLO localhost", "C: AUTH XOAUTH2 <redacted>"]
    );
    assert!(
        lines[2..]
            .iter()
            .all(|l| *l == "C: <redacted>" || *l == "C: *")
    );
    assert_redacted(
        &s,
        &[
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
            "user=tim@example.org\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01",
        ],
    );
}

#[test]
fn auth_line_redaction_is_case_blind_and_keeps_other_lines() {
    let mut trace = Trace::new(1, Vec::new());
    let lines = b"auth plain AHUAcA==\r\nAUTH LOGIN\r\nMAIL FROM:<a@b>\r\nAUTHORS\r\n";
    trace.sent(lines, Sent::Commands, at());
    assert_eq!(
        shown(&mut trace),
        "C: auth plain <redacted>\nC: AUTH LOGIN\nC: MAIL FROM:<a@b>\nC: AUTHORS\n"
    );
}

#[test]
fn secret_writes_are_redacted_whatever_they_hold() {
    let mut trace = Trace::new(2, Vec::new());
    trace.sent(b"MAIL FROM:<x>\r\nhunter2\r\n", Sent::Secret, at());
    assert_eq!(shown(&mut trace), "01:01:01.123456 C: <redacted>\n");
}

#[test]
fn message_data_is_a_byte_count() {
    let mut trace = Trace::new(1, Vec::new());
    trace.sent(
        b"Subject: hi\r\n\r\nsecret plans\r\n.\r\n",
        Sent::Body,
        at(),
    );
    assert_eq!(shown(&mut trace), "C: <32 octets of message data>\n");
}

#[test]
fn level_zero_writes_nothing_and_keeps_no_partial_line() {
    let mut trace = Trace::new(0, Vec::new());
    assert!(!trace.is_enabled());
    trace.note("hello", at());
    trace.sent(b"EHLO x\r\n", Sent::Commands, at());
    trace.received(b"250 o", at());
    assert_eq!(shown(&mut trace), "");
    trace.set_level(1);
    assert_eq!(trace.level(), 1);
    trace.received(b"k\r\n", at());
    assert_eq!(shown(&mut trace), "S: k\n");
}

#[test]
fn server_lines_are_joined_across_reads_and_escaped() {
    let mut trace = Trace::new(1, Vec::new());
    trace.received(b"250-mx\r\n250 PIPE", at());
    assert_eq!(shown(&mut trace), "S: 250-mx\n");
    trace.received(b"LINING\x1b[2J\r\n", at());
    assert_eq!(shown(&mut trace), "S: 250 PIPELINING\\u{1b}[2J\n");
}

#[test]
fn endless_server_line_is_flushed_at_the_cap() {
    let mut trace = Trace::new(1, Vec::new());
    trace.received(&vec![b'x'; MAX_PARTIAL + 1], at());
    assert_eq!(shown(&mut trace).len(), "S: ".len() + MAX_PARTIAL + 1 + 1);
    trace.received(b"\r\n", at());
    assert_eq!(shown(&mut trace), "S: \n");
}

#[test]
fn level_two_stamps_the_time_it_is_given() {
    let mut trace = Trace::new(2, Vec::new());
    trace.note("TLS established", at());
    trace.note("before 1970", UNIX_EPOCH - Duration::from_secs(5));
    assert_eq!(
        shown(&mut trace),
        "01:01:01.123456 * TLS established\n00:00:00.000000 * before 1970\n"
    );
}

#[test]
fn write_errors_do_not_reach_the_caller() {
    /// A writer that always fails, like a closed stderr.
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut trace = Trace::new(2, Broken);
    trace.note("still fine", at());
    trace.received(b"220 hi\r\n", at());
    trace.sent(b"EHLO x\r\n", Sent::Commands, at());
}
