//! Shared test helpers: a byte-scripted peer on 127.0.0.1 (it knows no
//! SMTP: it sends and expects exact bytes), and (from the dev crate
//! `smtp-testkit`, so the server discovery and spool readers exist once)
//! the real servers of `scripts/test-servers.sh`, with the builders that
//! need this adapter.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::Duration;

use smtp_tokio::smtp_proto::Domain;
use smtp_tokio::{Builder, Certificate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// Not every test crate reads the real servers.
#[allow(unused_imports)]
pub use smtp_testkit::real_servers::*;

/// The builder every loopback test uses: fixed EHLO name, short deadlines,
/// no TLS (the scripted peers speak plaintext unless a test asks).
pub fn loopback_builder(timeout: Duration) -> Builder {
    Builder::new()
        .insecure_plaintext()
        .local_hostname(Domain::parse("client.test").unwrap())
        .timeout(timeout)
}

/// [`Servers`] with this adapter's builder.
pub trait ServersExt {
    /// A builder trusting the test CA, with a test EHLO name, and no TLS
    /// unless the test asks (smtp-sink, aiosmtpd and LMTP speak
    /// plaintext).
    fn builder(&self) -> Builder;
    /// The test CA as this adapter's root certificate.
    fn ca(&self) -> Certificate;
}

impl ServersExt for Servers {
    fn builder(&self) -> Builder {
        Builder::new()
            .insecure_plaintext()
            .add_root_certificate(self.ca())
            .local_hostname(Domain::parse("client.test").unwrap())
            .timeout(Duration::from_secs(30))
    }

    fn ca(&self) -> Certificate {
        Certificate::from_pem(&self.ca_pem()).unwrap()
    }
}

/// Upper bound for any single wait of the peer.
pub const PEER_WAIT: Duration = Duration::from_secs(10);

/// One action of the scripted peer.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Read exactly these bytes (or fail).
    Expect(Vec<u8>),
    /// Read until these bytes have been seen (ignoring what comes before).
    ReadUntil(Vec<u8>),
    /// Wait.
    Sleep(Duration),
    /// Read until the client closes or `PEER_WAIT`; ignore what it sends.
    Drain,
    /// Read until the client closes; fail if it sends anything.
    ExpectClosedSilently,
    /// Close the connection now.
    Close,
}

pub fn send(s: &str) -> Step {
    Step::Send(s.as_bytes().to_vec())
}

pub fn expect(s: &str) -> Step {
    Step::Expect(s.as_bytes().to_vec())
}

pub fn until(s: &str) -> Step {
    Step::ReadUntil(s.as_bytes().to_vec())
}

/// The usual opening: greeting, EHLO from `client.test`, and an EHLO reply
/// with the given extension lines (the last is sent with a space).
pub fn opening(extensions: &[&str]) -> Vec<Step> {
    let mut reply = String::from("250");
    if extensions.is_empty() {
        reply.push_str(" peer\r\n");
    } else {
        reply.push_str("-peer\r\n");
        for (i, e) in extensions.iter().enumerate() {
            let sep = if i + 1 == extensions.len() { ' ' } else { '-' };
            reply.push_str(&format!("250{sep}{e}\r\n"));
        }
    }
    vec![
        send("220 peer ESMTP\r\n"),
        expect("EHLO client.test\r\n"),
        Step::Send(reply.into_bytes()),
    ]
}

/// A peer serving scripted connections, one script per connection, in
/// order; it counts the connections it accepted.
pub struct Peer {
    pub addr: SocketAddr,
    handle: JoinHandle<Result<usize, String>>,
}

impl Peer {
    /// One connection running `steps`.
    pub async fn start(steps: Vec<Step>) -> Peer {
        Peer::start_many(vec![steps]).await
    }

    /// One connection per script, accepted one after the other.
    pub async fn start_many(scripts: Vec<Vec<Step>>) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            let mut served = 0;
            for (n, steps) in scripts.into_iter().enumerate() {
                let (stream, _) = tokio::time::timeout(PEER_WAIT, listener.accept())
                    .await
                    .map_err(|_| format!("connection {n}: none came"))?
                    .map_err(|e| e.to_string())?;
                served += 1;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                run_script(stream, steps)
                    .await
                    .map_err(|e| format!("connection {n}: {e}"))?;
            }
            Ok(served)
        });
        Peer { addr, handle }
    }

    /// Waits for every script to finish; panics with a failure.
    pub async fn finish(self) -> usize {
        match tokio::time::timeout(PEER_WAIT * 3, self.handle).await {
            Ok(Ok(Ok(n))) => n,
            Ok(Ok(Err(e))) => panic!("peer script failed: {e}"),
            Ok(Err(e)) => panic!("peer task failed: {e}"),
            Err(_) => panic!("peer script did not finish"),
        }
    }
}

pub async fn run_script(mut stream: TcpStream, steps: Vec<Step>) -> Result<(), String> {
    for (i, step) in steps.iter().enumerate() {
        run_step(&mut stream, step)
            .await
            .map_err(|e| format!("step {i} {}: {e}", describe(step)))?;
    }
    Ok(())
}

fn describe(step: &Step) -> String {
    match step {
        Step::Send(b) | Step::Expect(b) | Step::ReadUntil(b) if b.len() > 200 => {
            format!("({} bytes)", b.len())
        }
        other => format!("{other:?}"),
    }
}

async fn run_step(stream: &mut TcpStream, step: &Step) -> Result<(), String> {
    match step {
        Step::Send(bytes) => stream.write_all(bytes).await.map_err(|e| e.to_string()),
        Step::Expect(want) => {
            let mut got = vec![0u8; want.len()];
            let read = tokio::time::timeout(PEER_WAIT, stream.read_exact(&mut got)).await;
            match read {
                Err(_) => Err(format!("timed out waiting for {:?}", lossy(want))),
                Ok(Err(e)) => Err(format!("{e} waiting for {:?}", lossy(want))),
                Ok(Ok(_)) if &got == want => Ok(()),
                Ok(Ok(_)) => Err(format!("got {:?}, wanted {:?}", lossy(&got), lossy(want))),
            }
        }
        Step::ReadUntil(want) => {
            let mut seen: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                if seen.windows(want.len()).any(|w| w == want.as_slice()) {
                    return Ok(());
                }
                let keep = seen.len().saturating_sub(want.len());
                seen.drain(..keep);
                match tokio::time::timeout(PEER_WAIT, stream.read(&mut buf)).await {
                    Err(_) => return Err(format!("timed out waiting for {:?}", lossy(want))),
                    Ok(Err(e)) => return Err(e.to_string()),
                    Ok(Ok(0)) => return Err(format!("closed before {:?}", lossy(want))),
                    Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                }
            }
        }
        Step::Sleep(d) => {
            tokio::time::sleep(*d).await;
            Ok(())
        }
        Step::Drain => {
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(PEER_WAIT, stream.read_to_end(&mut sink)).await;
            Ok(())
        }
        Step::ExpectClosedSilently => {
            let mut all = Vec::new();
            match tokio::time::timeout(PEER_WAIT, stream.read_to_end(&mut all)).await {
                Err(_) => Err("the client did not close".to_owned()),
                Ok(_) if all.is_empty() => Ok(()),
                Ok(_) => Err(format!("client sent {:?} instead of closing", lossy(&all))),
            }
        }
        Step::Close => {
            let _ = stream.shutdown().await;
            Ok(())
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
