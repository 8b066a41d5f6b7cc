//! The driver reads while it writes: a 10 MB pipelined body to a server
//! that does not read until it has written its own 4 MB of replies. With
//! small socket buffers on both ends, a client that only reads after its
//! write completes deadlocks here (the test would hit its time limit).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use smtp_tokio::Builder;
use smtp_tokio::smtp_proto::{BodyOptions, Domain, Envelope, ForwardPath, ReversePath, TxnOutcome};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

const RECIPIENTS: usize = 1000;
/// One RCPT reply line: `250 2.1.5 ` plus this many bytes of text.
const REPLY_TEXT: usize = 4000;
const BODY: usize = 10 * 1024 * 1024;
/// Socket buffer size asked for on both ends (Linux doubles it).
const SOCKBUF: u32 = 32 * 1024;

/// `BODY` bytes of 64-byte CRLF lines, produced on the fly.
struct Body {
    left: usize,
}

impl AsyncRead for Body {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        const LINE: &[u8; 64] =
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP\r\n";
        while self.left >= LINE.len() && buf.remaining() >= LINE.len() {
            buf.put_slice(LINE);
            self.left -= LINE.len();
        }
        Poll::Ready(Ok(()))
    }
}

/// What the server saw of the BDAT stream.
#[derive(Debug, Default)]
struct Seen {
    chunks: usize,
    bytes: usize,
    rcpts: usize,
}

async fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<u8> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            return buf.drain(..i + 2).collect();
        }
        let mut tmp = vec![0u8; 64 * 1024];
        let n = stream.read(&mut tmp).await.unwrap();
        assert!(n > 0, "client closed early");
        buf.extend_from_slice(&tmp[..n]);
    }
}

async fn server(mut stream: TcpStream) -> Seen {
    let mut buf = Vec::new();
    stream.write_all(b"220 peer ESMTP\r\n").await.unwrap();
    assert_eq!(
        read_line(&mut stream, &mut buf).await,
        b"EHLO client.test\r\n"
    );
    stream
        .write_all(b"250-peer\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
        .await
        .unwrap();
    let mail = read_line(&mut stream, &mut buf).await;
    assert!(mail.starts_with(b"MAIL FROM:<a@example.org>"), "{mail:?}");

    // Every reply for the envelope (4 MB), before reading another byte.
    let mut replies = b"250 2.1.0 Ok\r\n".to_vec();
    let text = "x".repeat(REPLY_TEXT);
    for _ in 0..RECIPIENTS {
        replies.extend_from_slice(format!("250 2.1.5 {text}\r\n").as_bytes());
    }
    let started = Instant::now();
    stream.write_all(&replies).await.unwrap();
    eprintln!(
        "server wrote {} bytes of replies in {:?}",
        replies.len(),
        started.elapsed()
    );

    // Now read the RCPTs and every BDAT chunk.
    let mut seen = Seen::default();
    loop {
        let line = read_line(&mut stream, &mut buf).await;
        if line.starts_with(b"RCPT TO:") {
            seen.rcpts += 1;
            continue;
        }
        let text = String::from_utf8(line).unwrap();
        let mut words = text.split_whitespace();
        assert_eq!(words.next(), Some("BDAT"), "{text:?}");
        let size: usize = words.next().unwrap().parse().unwrap();
        let last = words.next() == Some("LAST");
        while buf.len() < size {
            let mut tmp = vec![0u8; 256 * 1024];
            let n = stream.read(&mut tmp).await.unwrap();
            assert!(n > 0, "client closed inside a chunk");
            buf.extend_from_slice(&tmp[..n]);
        }
        buf.drain(..size);
        seen.chunks += 1;
        seen.bytes += size;
        if last {
            break;
        }
    }
    let mut replies = Vec::new();
    for _ in 1..seen.chunks {
        replies.extend_from_slice(b"250 2.0.0 chunk ok\r\n");
    }
    replies.extend_from_slice(b"250 2.0.0 Ok: queued as CONCURRENT\r\n");
    stream.write_all(&replies).await.unwrap();
    assert_eq!(read_line(&mut stream, &mut buf).await, b"QUIT\r\n");
    stream.write_all(b"221 bye\r\n").await.unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabytes_against_a_server_that_writes_first() {
    let listen = TcpSocket::new_v4().unwrap();
    listen.set_recv_buffer_size(SOCKBUF).unwrap();
    listen.set_send_buffer_size(SOCKBUF).unwrap();
    listen.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = listen.listen(8).unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        server(stream).await
    });

    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(SOCKBUF).unwrap();
    socket.set_send_buffer_size(SOCKBUF).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();

    let started = Instant::now();
    let run = async {
        let mut smtp = Builder::new()
            .insecure_plaintext()
            .local_hostname(Domain::parse("client.test").unwrap())
            .timeout(Duration::from_secs(30))
            .connect_stream(stream)
            .await
            .unwrap();
        let recipients =
            (0..RECIPIENTS).map(|i| ForwardPath::parse(&format!("r{i}@example.org")).unwrap());
        let env = Envelope::new(ReversePath::parse("a@example.org").unwrap(), recipients);
        let report = smtp
            .send_report(&env, Body { left: BODY }, BodyOptions::default())
            .await
            .unwrap();
        smtp.quit().await.unwrap();
        report
    };
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("deadlock: the client did not read while writing");
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    assert_eq!(report.delivered().count(), RECIPIENTS);
    let seen = peer.await.unwrap();
    assert_eq!(seen.bytes, BODY);
    assert_eq!(seen.rcpts, RECIPIENTS);
    assert!(seen.chunks >= 40, "{seen:?}");
    eprintln!(
        "10 MB + 4 MB of replies in {:?}: {seen:?}",
        started.elapsed()
    );
}
