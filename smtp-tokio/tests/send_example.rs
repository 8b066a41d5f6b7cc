//! The `send-async` example end to end: the blocking example's flags,
//! output lines and exit codes. The cases without a scripted peer are in
//! the dev crate `smtp-testkit` (`smtp_testkit::cli_cases`), shared with
//! smtp-blocking's `send`.
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
    package: "smtp-tokio",
    name: "send-async",
};

smtp_testkit::cli_cases!(EXAMPLE);

/// [`Example::run`] off the runtime's threads, so the scripted peer
/// keeps running while the example talks to it.
async fn run(args: &[&str], stdin: &str) -> Run {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        EXAMPLE.run(&args, &stdin)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_unknown_exits_3() {
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
    ])
    .await;
    let server = peer.addr.to_string();
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
    let r = run(&args, "Subject: x\r\n\r\nhi\r\n").await;
    peer.finish().await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("outcome unknown"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_starttls_missing_exits_2_before_mail() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 AUTH PLAIN\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::ExpectClosedSilently,
    ])
    .await;
    let server = peer.addr.to_string();
    let args = [
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
    ];
    let r = run(&args, "x\r\n").await;
    peer.finish().await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("TLS required"), "{}", r.stderr);
}

/// `--user` on a connection without TLS: exit 2, and no AUTH of any
/// mechanism goes out (CRAM-MD5 included) unless `--allow-plaintext-auth`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_without_tls_exits_2_and_sends_no_auth() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 AUTH CRAM-MD5 PLAIN\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::ExpectClosedSilently,
    ])
    .await;
    let server = peer.addr.to_string();
    let args = [
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
    ];
    let r = run(&args, "x\r\n").await;
    peer.finish().await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no TLS"), "{}", r.stderr);
}

/// A message piped on standard input is measured before connecting:
/// `SIZE=` is declared, and `BODY=8BITMIME` is not, for a 7-bit body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_stdin_declares_its_size_and_no_8bitmime_for_7bit() {
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
    ])
    .await;
    let server = peer.addr.to_string();
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
    let r = run(&args, "Subject: x\r\n").await;
    peer.finish().await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A piped message over the server's SIZE limit is refused before MAIL:
/// nothing of it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_stdin_over_the_size_limit_sends_no_mail() {
    let peer = Peer::start(vec![
        send("220 peer.test\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 SIZE 10\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::ExpectClosedSilently,
    ])
    .await;
    let server = peer.addr.to_string();
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
    let r = run(&args, "Subject: x\r\n\r\nmore than ten octets\r\n").await;
    peer.finish().await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("exceeds"), "{}", r.stderr);
}

/// The password can come from a file, never from the command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_from_a_file() {
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
    ])
    .await;
    let server = peer.addr.to_string();
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
    let r = run(&args, "x\r\n").await;
    peer.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A piped message whose envelope comes from its headers is measured too:
/// `SIZE=` is declared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_message_with_header_envelope_declares_its_size() {
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
    ])
    .await;
    let server = peer.addr.to_string();
    let args = ["--server", &server, "--helo", "client.test"];
    let r = run(&args, "From: a@x.test\r\nTo: b@x.test\r\n\r\nhi\r\n").await;
    peer.finish().await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}
