//! The `send` examples' end-to-end cases that need no scripted peer: bad
//! arguments, refused connections and the real servers. Both adapters'
//! examples share their command line ([`send_cli`](crate::send_cli)), so
//! the same cases hold for both. An adapter runs every case as its own
//! `#[test]` with [`cli_cases!`](crate::cli_cases!), naming its example
//! binary; [`Example::run`] runs the example for the adapter's own cases.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::hostile::{Server, parse};
use crate::real_servers::{envelope_rcpts, exim_delivery_by_id, exim_servers, servers, token};

/// An adapter's `send` example: its package and example name, and the
/// feature flags to build it with (those of the test that runs it, so that
/// the example uses the same TLS backend).
#[derive(Clone, Copy, Debug)]
pub struct Example {
    pub package: &'static str,
    pub name: &'static str,
    pub features: &'static [&'static str],
}

/// What the example did: exit code (-1 when killed) and output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Example {
    /// The example binary, brought up to date once per test process (a
    /// binary left from an older build must never be what is tested;
    /// `cargo build` is a no-op when it is current).
    fn binary(&self) -> PathBuf {
        static BUILT: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().parent().unwrap();
        let bin = dir.join("examples").join(self.name);
        let mut built = BUILT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !built.contains(&self.name) {
            let status = Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", self.package, "--example", self.name])
                .args(self.features)
                .status()
                .unwrap();
            assert!(status.success(), "building the example failed");
            built.push(self.name);
        }
        bin
    }

    /// Runs the example with `args` and `stdin`, bounded to 60 s.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = Command::new(self.binary())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The child may fail before reading its input: ignore a broken pipe.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(60) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Every case of this module as a `#[test]` of the calling test crate,
/// against `$example` (an [`Example`] expression).
#[macro_export]
macro_rules! cli_cases {
    ($example:expr) => {
        $crate::cli_cases!(@tests $example;
            bad_arguments_exit_2,
            help_exits_0_on_stdout,
            connection_refused_exits_2,
            postfix_starttls_login_some_refused_exits_1,
            envelope_from_headers_all_accepted_exits_0,
            none_accepted_exits_2,
            implicit_tls_and_debug_trace_redacts_auth,
            lmtp_unix_socket_per_recipient_lines,
            exim_prdr_per_recipient_lines,
            exim_no_prdr_refuses_the_whole_message,
            outcome_unknown_exits_3,
            required_starttls_missing_exits_2_before_mail,
            user_without_tls_exits_2_and_sends_no_auth,
            piped_stdin_declares_its_size_and_no_8bitmime_for_7bit,
            piped_stdin_over_the_size_limit_sends_no_mail,
            password_from_a_file,
            piped_message_with_header_envelope_declares_its_size,
        );
    };
    (@tests $example:expr; $($case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                $crate::cli_cases::$case(&$example);
            }
        )*
    };
}

pub fn help_exits_0_on_stdout(example: &Example) {
    for flag in ["--help", "-h"] {
        let r = example.run(&[flag], "");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.starts_with("usage: "), "{}", r.stdout);
        assert!(r.stderr.is_empty(), "{}", r.stderr);
    }
}

pub fn bad_arguments_exit_2(example: &Example) {
    let r = example.run(&["--bogus"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

pub fn connection_refused_exits_2(example: &Example) {
    // A port that was just free.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("127.0.0.1:{port}");
    let r = example.run(
        &[
            "--server", &server, "--from", "a@x.test", "--to", "b@x.test",
        ],
        "x\r\n",
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    // The error names what it tried to reach.
    assert!(
        r.stderr.contains(&format!("connecting to {server}")),
        "{}",
        r.stderr
    );
}

pub fn postfix_starttls_login_some_refused_exits_1(example: &Example) {
    let Some(s) = servers() else { return };
    let server = s.addr("SMTP_TEST_POSTFIX_PORT");
    let ca = s.var("SMTP_TEST_CA");
    let (user, password) = (s.user(), s.password());
    let tok = token("cli");
    let r = example.run(
        &[
            "--server",
            &server,
            "--starttls",
            "--ca-file",
            &ca,
            "--user",
            &user,
            "--password",
            &password,
            "--from",
            "a@example.org",
            "--to",
            "one@example.org",
            "--to",
            "reject-two@example.org",
        ],
        &format!("Subject: {tok}\r\n\r\nhello\r\n"),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].starts_with("one@example.org 250 2.0.0 "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("reject-two@example.org 550 5.1.1 "),
        "{}",
        lines[1]
    );
}

pub fn envelope_from_headers_all_accepted_exits_0(example: &Example) {
    let Some(s) = servers() else { return };
    let server = s.addr("SMTP_TEST_AIOSMTPD_PORT");
    let msg = "From: a@example.org\r\nTo: b@example.org\r\nBcc: c@example.org\r\nSubject: hi\r\n\r\nx\r\n";
    let r = example.run(
        &["--server", &server, "--no-pipelining", "--no-chunking"],
        msg,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].starts_with("b@example.org 250 "), "{}", lines[0]);
    assert!(lines[1].starts_with("c@example.org 250 "), "{}", lines[1]);
}

pub fn none_accepted_exits_2(example: &Example) {
    let Some(s) = servers() else { return };
    let server = s.addr("SMTP_TEST_POSTFIX_PORT");
    let r = example.run(
        &[
            "--server",
            &server,
            "--from",
            "a@example.org",
            "--to",
            "reject-1@example.org",
        ],
        "Subject: x\r\n\r\ny\r\n",
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.starts_with("reject-1@example.org 550 "),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("error: "), "{}", r.stderr);
}

pub fn implicit_tls_and_debug_trace_redacts_auth(example: &Example) {
    let Some(s) = servers() else { return };
    let server = s.addr("SMTP_TEST_AIOSMTPD_TLS_PORT");
    let ca = s.var("SMTP_TEST_CA");
    let (user, password) = (s.user(), s.password());
    for mech in ["PLAIN", "LOGIN"] {
        let args = [
            "--server",
            &server,
            "--tls",
            "--ca-file",
            &ca,
            "--user",
            &user,
            "--password",
            &password,
            "--auth",
            mech,
            "--debug",
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
        ];
        let r = example.run(&args, "Subject: x\r\n\r\ny\r\n");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(!r.stderr.contains(&password), "password in the trace");
        assert!(r.stderr.contains("S: 235"), "{}", r.stderr);
        let trace: Vec<&str> = r.stderr.lines().collect();
        if mech == "PLAIN" {
            assert!(trace.contains(&"C: AUTH PLAIN <redacted>"), "{}", r.stderr);
        } else {
            let answers: Vec<&str> = trace
                .windows(2)
                .filter(|w| w[0].starts_with("S: 334"))
                .map(|w| w[1])
                .collect();
            assert_eq!(answers, ["C: <redacted>", "C: <redacted>"], "{}", r.stderr);
        }
    }
}

pub fn lmtp_unix_socket_per_recipient_lines(example: &Example) {
    let Some(s) = servers() else { return };
    let socket = s.var("SMTP_TEST_LMTP_SOCKET");
    let over = format!("{}@example.org", s.var("SMTP_TEST_LMTP_OVERQUOTA_USER"));
    let args = [
        "--lmtp",
        "--server",
        &socket,
        "--from",
        "a@example.org",
        "--to",
        "alice@example.org",
        "--to",
        &over,
        "--to",
        "nobody@example.org",
    ];
    let r = example.run(&args, "Subject: lmtp\r\n\r\nx\r\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(
        lines[0].starts_with("alice@example.org 250 2.0.0 "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(&format!("{over} 552 5.2.2 ")),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("nobody@example.org 550 5.1.1 "),
        "{}",
        lines[2]
    );
}

/// Sends one message through the project's Exim with STARTTLS to a kept
/// recipient and to one that Exim's PRDR rule refuses after the data.
fn exim_run(example: &Example, extra: &[&str], tag: &str) -> Option<(Run, String, String)> {
    let s = exim_servers()?;
    let server = s.addr("SMTP_TEST_EXIM_PORT");
    let ca = s.var("SMTP_TEST_CA");
    let tok = token(tag);
    let kept = format!("kept-{tok}@example.org");
    let refused = format!("prdrreject-{tok}@example.org");
    let mut args = vec![
        "--server",
        &server,
        "--starttls",
        "--ca-file",
        &ca,
        "--from",
        "a@example.org",
        "--to",
        &kept,
        "--to",
        &refused,
    ];
    args.extend_from_slice(extra);
    let r = example.run(&args, &format!("Subject: {tok}\r\n\r\nhello\r\n"));
    Some((r, kept, refused))
}

/// PRDR is used on its own: one line per recipient with that recipient's
/// own reply after the data, exit 1 (some refused); Exim stored the
/// message for the kept recipient only.
pub fn exim_prdr_per_recipient_lines(example: &Example) {
    let Some((r, kept, refused)) = exim_run(example, &[], "prdr") else {
        return;
    };
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].starts_with(&format!("{kept} 250 PRDR R=<{kept}> acceptance")),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(&format!("{refused} 550 5.7.1 ")),
        "{}",
        lines[1]
    );
    // The message's own reply (with Exim's id) is not on stdout: find the
    // delivery by its recipient (bounded: Exim delivers just after it
    // answers).
    let s = exim_servers().unwrap();
    let started = Instant::now();
    let found = loop {
        let hit = std::fs::read_dir(s.exim_spool())
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".env").map(str::to_owned)
            })
            .map(|id| exim_delivery_by_id(&s, &id).1)
            .find(|env| envelope_rcpts(env).contains(&kept));
        if let Some(env) = hit {
            break env;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "Exim stored no message for {kept}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(envelope_rcpts(&found), [kept]);
}

/// With `--no-prdr` the message's single reply speaks for everyone, and
/// Exim's rule (a prdrreject recipient refuses the whole message without
/// PRDR) refuses it: exit 2, nothing delivered.
pub fn exim_no_prdr_refuses_the_whole_message(example: &Example) {
    let Some((r, _, _)) = exim_run(example, &["--no-prdr"], "noprdr") else {
        return;
    };
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    for line in lines {
        assert!(line.contains(" 550 5.7.1 Message refused"), "{line}");
    }
}

// ----- against a scripted peer (the hostile server's scenario format) -----

/// Runs the example against a peer playing `scenario` (`--server` and
/// `--helo client.test` are added), checks that the peer's script ran to
/// its end, and returns the run.
fn against(example: &Example, scenario: &str, args: &[&str], stdin: &str) -> Run {
    let server = Server::start(parse(scenario).unwrap());
    let addr = format!("127.0.0.1:{}", server.port());
    let mut all = vec!["--server", addr.as_str(), "--helo", "client.test"];
    all.extend_from_slice(args);
    let r = example.run(&all, stdin);
    server.finish();
    r
}

const ENVELOPE: [&str; 4] = ["--from", "a@x.test", "--to", "b@x.test"];

/// The connection is lost after the final dot: the message may have been
/// delivered, exit 3.
pub fn outcome_unknown_exits_3(example: &Example) {
    let scn = "S: 220 peer.test\nC: EHLO client.test\nS: 250 peer.test\n\
               C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 250 ok\n\
               C: DATA\nS: 354 go\nC: Subject: x\\r\\n\\r\\nhi\\r\\n.\nCLOSE\n";
    let r = against(example, scn, &ENVELOPE, "Subject: x\r\n\r\nhi\r\n");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("outcome unknown"), "{}", r.stderr);
}

/// `--starttls` against a server without STARTTLS: exit 2 before any AUTH
/// or MAIL, only QUIT sent.
pub fn required_starttls_missing_exits_2_before_mail(example: &Example) {
    let scn = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH PLAIN\n\
               C: QUIT\nS: 221 bye\nEND\n";
    let mut args = vec!["--starttls", "--user", "u", "--password", "p"];
    args.extend_from_slice(&ENVELOPE);
    let r = against(example, scn, &args, "x\r\n");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("TLS required"), "{}", r.stderr);
}

/// `--user` on a connection without TLS: exit 2, and no AUTH of any
/// mechanism goes out (CRAM-MD5 included) unless `--allow-plaintext-auth`.
pub fn user_without_tls_exits_2_and_sends_no_auth(example: &Example) {
    let scn = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH CRAM-MD5 PLAIN\n\
               C: QUIT\nS: 221 bye\nEND\n";
    let mut args = vec!["--user", "u", "--password", "p"];
    args.extend_from_slice(&ENVELOPE);
    let r = against(example, scn, &args, "x\r\n");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no TLS"), "{}", r.stderr);
}

/// A piped message is measured before connecting: `SIZE=` is declared,
/// and `BODY=8BITMIME` is not, for a 7-bit body.
pub fn piped_stdin_declares_its_size_and_no_8bitmime_for_7bit(example: &Example) {
    let scn = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS+ 250-SIZE 1000\nS: 250 8BITMIME\n\
               C: MAIL FROM:<a@x.test> SIZE=12\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 250 ok\n\
               C: DATA\nS: 354 go\nC: Subject: x\\r\\n.\nS: 250 queued\nBYE\n";
    let r = against(example, scn, &ENVELOPE, "Subject: x\r\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A piped message over the server's SIZE limit is refused before MAIL.
pub fn piped_stdin_over_the_size_limit_sends_no_mail(example: &Example) {
    let scn = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 SIZE 10\n\
               C: QUIT\nS: 221 bye\nEND\n";
    let r = against(
        example,
        scn,
        &ENVELOPE,
        "Subject: x\r\n\r\nmore than ten octets\r\n",
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("exceeds"), "{}", r.stderr);
}

/// The password can come from a file, never from the command line.
pub fn password_from_a_file(example: &Example) {
    let dir = std::env::temp_dir().join(format!("send-pw-{}-{}", std::process::id(), example.name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pw");
    std::fs::write(&file, "secret\n").unwrap();
    let scn = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 AUTH PLAIN\n\
               C: AUTH PLAIN AHUAc2VjcmV0\nS: 235 ok\n\
               C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 250 ok\n\
               C: DATA\nS: 354 go\nC: x\\r\\n.\nS: 250 queued\nBYE\n";
    let pw = file.to_string_lossy().into_owned();
    let mut args = vec![
        "--user",
        "u",
        "--password-file",
        pw.as_str(),
        "--allow-plaintext-auth",
    ];
    args.extend_from_slice(&ENVELOPE);
    let r = against(example, scn, &args, "x\r\n");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A piped message whose envelope comes from its headers is measured too.
pub fn piped_message_with_header_envelope_declares_its_size(example: &Example) {
    let scn = "S: 220 peer.test\nC: EHLO client.test\nS+ 250-peer.test\nS: 250 SIZE 1000\n\
               C: MAIL FROM:<a@x.test> SIZE=36\nS: 250 ok\nC: RCPT TO:<b@x.test>\nS: 250 ok\n\
               C: DATA\nS: 354 go\nC: From: a@x.test\\r\\nTo: b@x.test\\r\\n\\r\\nhi\\r\\n.\n\
               S: 250 queued\nBYE\n";
    let r = against(
        example,
        scn,
        &[],
        "From: a@x.test\r\nTo: b@x.test\r\n\r\nhi\r\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}
