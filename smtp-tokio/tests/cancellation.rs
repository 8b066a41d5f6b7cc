//! Dropping a future mid-command poisons the connection: every later call
//! says so, nothing more is written, and a pool never hands it out again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{Peer, Step, expect, loopback_builder, opening, send, until};
use smtp_tokio::smtp_proto::{BodyOptions, Envelope, ForwardPath, ReversePath};
use smtp_tokio::{Error, SmtpClient};
use tokio::io::{AsyncRead, ReadBuf};

const CANCEL_AFTER: Duration = Duration::from_millis(200);

fn env() -> Envelope {
    Envelope::new(
        ReversePath::parse("a@example.org").unwrap(),
        [ForwardPath::parse("b@example.org").unwrap()],
    )
}

/// A body that yields `first` and then never another byte.
struct Stalls {
    first: Option<Vec<u8>>,
}

impl AsyncRead for Stalls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.first.take() {
            Some(bytes) => {
                buf.put_slice(&bytes);
                Poll::Ready(Ok(()))
            }
            None => Poll::Pending,
        }
    }
}

/// Runs `op` against a peer that plays `steps` and then stays silent; the
/// op is cancelled by a timeout, after which the client must refuse
/// everything with `Poisoned` and write nothing more.
async fn cancelled<F>(extensions: &[&str], steps: Vec<Step>, op: F)
where
    F: for<'a> FnOnce(&'a mut SmtpClient) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
{
    let mut script = opening(extensions);
    script.extend(steps);
    // Silence until the client goes away; nothing more may come.
    script.push(Step::ExpectClosedSilently);
    let peer = Peer::start(script).await;
    let mut smtp = loopback_builder(Duration::from_secs(10))
        .allow_plaintext_auth(true)
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let run = tokio::time::timeout(CANCEL_AFTER, op(&mut smtp)).await;
    assert!(run.is_err(), "the operation was expected to hang");
    assert!(!smtp.is_connected(), "a cancelled call must poison");
    for _ in 0..2 {
        let e = smtp.noop().await.unwrap_err();
        let Error::Poisoned { cause } = e else {
            panic!("{e:?}")
        };
        assert!(cause.contains("cancelled"), "{cause}");
    }
    assert!(matches!(
        smtp.sendmail("a@example.org", &["b@example.org"], b"x", &[], &[])
            .await,
        Err(Error::Poisoned { .. })
    ));
    drop(smtp);
    peer.finish().await;
}

#[tokio::test]
async fn cancel_during_ehlo() {
    cancelled(&[], vec![expect("EHLO client.test\r\n")], |c| {
        Box::pin(async move {
            let _ = c.ehlo().await;
        })
    })
    .await;
}

#[tokio::test]
async fn cancel_during_noop() {
    cancelled(&[], vec![expect("NOOP\r\n")], |c| {
        Box::pin(async move {
            let _ = c.noop().await;
        })
    })
    .await;
}

#[tokio::test]
async fn cancel_during_starttls() {
    cancelled(&["STARTTLS"], vec![expect("STARTTLS\r\n")], |c| {
        Box::pin(async move {
            let _ = c.starttls().await;
        })
    })
    .await;
}

#[tokio::test]
async fn cancel_during_an_auth_challenge() {
    let steps = vec![
        expect("AUTH CRAM-MD5\r\n"),
        send("334 PDEyMzQ1QGxvY2FsaG9zdD4=\r\n"),
        until("\r\n"),
    ];
    cancelled(&["AUTH CRAM-MD5"], steps, |c| {
        Box::pin(async move {
            let _ = c.login("user", "secret").await;
        })
    })
    .await;
}

#[tokio::test]
async fn cancel_while_waiting_for_mail_reply() {
    cancelled(&[], vec![expect("MAIL FROM:<a@example.org>\r\n")], |c| {
        Box::pin(async move {
            let _ = c
                .sendmail("a@example.org", &["b@example.org"], b"x\r\n", &[], &[])
                .await;
        })
    })
    .await;
}

#[tokio::test]
async fn cancel_in_the_middle_of_the_body() {
    let steps = vec![
        until("DATA\r\n"),
        send("250 ok\r\n250 ok\r\n354 go\r\n"),
        until("first part end\r\n"),
    ];
    cancelled(&["PIPELINING"], steps, |c| {
        Box::pin(async move {
            // One full read chunk (64 KiB), so that it is sent at once.
            let mut first = b"line\r\n".repeat(65536 / 6);
            first.resize(65536 - 16, b'x');
            first.extend_from_slice(b"first part end\r\n");
            let body = Stalls { first: Some(first) };
            let _ = c.send_report(&env(), body, BodyOptions::default()).await;
        })
    })
    .await;
}

#[tokio::test]
async fn cancel_while_waiting_for_the_final_reply() {
    let steps = vec![
        until("DATA\r\n"),
        send("250 ok\r\n250 ok\r\n354 go\r\n"),
        until("\r\n.\r\n"),
    ];
    cancelled(&["PIPELINING"], steps, |c| {
        Box::pin(async move {
            let _ = c
                .send_report(&env(), &b"body\r\n"[..], BodyOptions::default())
                .await;
        })
    })
    .await;
}

#[tokio::test]
async fn cancel_during_a_batch() {
    let steps = vec![
        until("DATA\r\n"),
        send("250 ok\r\n250 ok\r\n354 go\r\n"),
        until("one\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
    ];
    cancelled(&["PIPELINING"], steps, |c| {
        Box::pin(async move {
            let msgs = vec![(env(), b"one\r\n".to_vec()), (env(), b"two\r\n".to_vec())];
            let _ = c.send_many(&msgs).await;
        })
    })
    .await;
}

#[tokio::test]
async fn cancel_during_quit() {
    cancelled(&[], vec![expect("QUIT\r\n")], |c| {
        Box::pin(async move {
            let _ = c.quit().await;
        })
    })
    .await;
}

#[tokio::test]
async fn a_completed_call_after_a_timeout_free_one_is_fine() {
    // The busy mark is cleared by normal completion, errors included.
    let mut steps = opening(&[]);
    steps.extend([
        expect("NOOP\r\n"),
        send("250 ok\r\n"),
        expect("MAIL FROM:<reject@example.org>\r\n"),
        send("550 no\r\n"),
        expect("NOOP\r\n"),
        send("250 ok\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
    ]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    smtp.noop().await.unwrap();
    let e = smtp
        .sendmail("reject@example.org", &["b@example.org"], b"x\r\n", &[], &[])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SenderRefused { .. }), "{e:?}");
    smtp.noop().await.unwrap();
    smtp.quit().await.unwrap();
    peer.finish().await;
}
