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
