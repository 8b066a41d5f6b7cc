//! The `send` example end to end: its exit codes and its output lines.
//! The cases without a scripted peer are in the dev crate `smtp-testkit`
//! (`smtp_testkit::cli_cases`), shared with smtp-tokio's `send-async`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Peer, Step, expect, send};
use smtp_testkit::cli_cases::{Example, Run};

const EXAMPLE: Example = Example {
    package: "smtp-blocking",
    name: "send",
};

smtp_testkit::cli_cases!(EXAMPLE);

/// Runs the example with `args` and `stdin`.
fn run(args: &[&str], stdin: &str) -> Run {
    EXAMPLE.run(args, stdin)
}

#[test]
fn outcome_unknown_exits_3() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250 peer.test\r\n"),
        expect("MAIL FROM:<a@x.test>\r\n"),
        send("250 ok\r\n"),
        expect("RCPT TO:<b@x.test>\r\n"),
        send("250 ok\r\n"),
        expect("DATA\r\n"),
        send("354 go\r\n"),
        expect("Subject: x\r\n\r\nhi\r\n.\r\n"),
        Step::Close,
    ]);
    let server = format!("127.0.0.1:{}", peer.addr.port());
    let r = run(
        &[
            "--server",
            &server,
            "--helo",
            "client.test",
            "--from",
            "a@x.test",
            "--to",
            "b@x.test",
        ],
        "Subject: x\r\n\r\nhi\r\n",
    );
    peer.finish();
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("outcome unknown"), "{}", r.stderr);
}

#[test]
fn required_starttls_missing_exits_2_before_mail() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 AUTH PLAIN\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::ExpectClosedSilently,
    ]);
    let server = format!("127.0.0.1:{}", peer.addr.port());
    let r = run(
        &[
            "--server",
            &server,
            "--helo",
            "client.test",
            "--starttls",
            "--user",
            "u",
            "--password",
            "p",
            "--from",
            "a@x.test",
            "--to",
            "b@x.test",
        ],
        "x\r\n",
    );
    peer.finish();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("TLS required"), "{}", r.stderr);
}

/// `--user` on a connection without TLS: exit 2, and no AUTH of any
/// mechanism goes out (CRAM-MD5 included) unless `--allow-plaintext-auth`.
#[test]
fn user_without_tls_exits_2_and_sends_no_auth() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 AUTH CRAM-MD5 PLAIN\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::ExpectClosedSilently,
    ]);
    let server = format!("127.0.0.1:{}", peer.addr.port());
    let r = run(
        &[
            "--server",
            &server,
            "--helo",
            "client.test",
            "--user",
            "u",
            "--password",
            "p",
            "--from",
            "a@x.test",
            "--to",
            "b@x.test",
        ],
        "x\r\n",
    );
    peer.finish();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no TLS"), "{}", r.stderr);
}

/// A message piped on standard input is measured before connecting:
/// `SIZE=` is declared, and `BODY=8BITMIME` is not, for a 7-bit body.
#[test]
fn piped_stdin_declares_its_size_and_no_8bitmime_for_7bit() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"),
        expect("MAIL FROM:<a@x.test> SIZE=12\r\n"),
        send("250 ok\r\n"),
        expect("RCPT TO:<b@x.test>\r\n"),
        send("250 ok\r\n"),
        expect("DATA\r\n"),
        send("354 go\r\n"),
        expect("Subject: x\r\n.\r\n"),
        send("250 queued\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Close,
    ]);
    let server = format!("127.0.0.1:{}", peer.addr.port());
    let args = [
        "--server",
        &server,
        "--helo",
        "client.test",
        "--from",
        "a@x.test",
        "--to",
        "b@x.test",
    ];
    let r = run(&args, "Subject: x\r\n");
    peer.finish();
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A piped message over the server's SIZE limit is refused before MAIL:
/// nothing of it is sent.
#[test]
fn piped_stdin_over_the_size_limit_sends_no_mail() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 SIZE 10\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::ExpectClosedSilently,
    ]);
    let server = format!("127.0.0.1:{}", peer.addr.port());
    let args = [
        "--server",
        &server,
        "--helo",
        "client.test",
        "--from",
        "a@x.test",
        "--to",
        "b@x.test",
    ];
    let r = run(&args, "Subject: x\r\n\r\nmore than ten octets\r\n");
    peer.finish();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("exceeds"), "{}", r.stderr);
}

/// The password can come from a file, never from the command line.
#[test]
fn password_from_a_file() {
    let dir = std::env::temp_dir().join(format!("send-pw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pw");
    std::fs::write(&file, "secret\n").unwrap();
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 AUTH PLAIN\r\n"),
        expect("AUTH PLAIN AHUAc2VjcmV0\r\n"),
        send("235 ok\r\n"),
        expect("MAIL FROM:<a@x.test>\r\n"),
        send("250 ok\r\n"),
        expect("RCPT TO:<b@x.test>\r\n"),
        send("250 ok\r\n"),
        expect("DATA\r\n"),
        send("354 go\r\n"),
        expect("x\r\n.\r\n"),
        send("250 queued\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Close,
    ]);
    let server = format!("127.0.0.1:{}", peer.addr.port());
    let pw = file.to_string_lossy().into_owned();
    let args = [
        "--server",
        &server,
        "--helo",
        "client.test",
        "--user",
        "u",
        "--password-file",
        &pw,
        "--allow-plaintext-auth",
        "--from",
        "a@x.test",
        "--to",
        "b@x.test",
    ];
    let r = run(&args, "x\r\n");
    peer.finish();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A piped message whose envelope comes from its headers is measured too:
/// `SIZE=` is declared.
#[test]
fn piped_message_with_header_envelope_declares_its_size() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 SIZE 1000\r\n"),
        expect("MAIL FROM:<a@x.test> SIZE=36\r\n"),
        send("250 ok\r\n"),
        expect("RCPT TO:<b@x.test>\r\n"),
        send("250 ok\r\n"),
        expect("DATA\r\n"),
        send("354 go\r\n"),
        expect("From: a@x.test\r\nTo: b@x.test\r\n\r\nhi\r\n.\r\n"),
        send("250 queued\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Close,
    ]);
    let server = format!("127.0.0.1:{}", peer.addr.port());
    let args = ["--server", &server, "--helo", "client.test"];
    let r = run(&args, "From: a@x.test\r\nTo: b@x.test\r\n\r\nhi\r\n");
    peer.finish();
    assert_eq!(r.code, 0, "{}", r.stderr);
}
