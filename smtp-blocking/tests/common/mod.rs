//! Shared test helpers: a byte-exact scripted peer on 127.0.0.1 (it knows
//! no SMTP: it sends and expects exact bytes), and (from the dev crate
//! `smtp-testkit`, shared with smtp-tokio) access to the real servers of
//! `scripts/test-servers.sh` through the `SMTP_TEST_*` variables, with the
//! builders that need this adapter.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smtp_blocking::smtp_proto::Domain;
use smtp_blocking::{Builder, Certificate};
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
    /// Write these bytes in one `write_all`.
    Send(Vec<u8>),
    /// Write these bytes, ignoring a closed connection.
    TrySend(Vec<u8>),
    /// Read exactly these bytes (or fail).
    Expect(Vec<u8>),
    /// Wait.
    Sleep(Duration),
    /// Read until the client closes; fail if it sends anything.
    ExpectClosedSilently,
    /// Read until the client closes or `PEER_WAIT`; ignore what it sends.
    Drain,
    /// Close the connection now.
    Close,
}

/// `Send` of a string.
pub fn send(s: &str) -> Step {
    Step::Send(s.as_bytes().to_vec())
}

/// `Expect` of a string.
pub fn expect(s: &str) -> Step {
    Step::Expect(s.as_bytes().to_vec())
}

/// A peer thread serving one connection.
pub struct Peer {
    pub addr: SocketAddr,
    handle: JoinHandle<Result<(), String>>,
}

impl Peer {
    /// Listens on 127.0.0.1:0 and runs `steps` on the first connection.
    pub fn start(steps: Vec<Step>) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || run_peer(listener, steps));
        Peer { addr, handle }
    }

    /// Waits for the script to finish; panics with its failure.
    pub fn finish(self) {
        match self.handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("peer script failed: {e}"),
            Err(_) => panic!("peer thread panicked"),
        }
    }
}

fn run_peer(listener: TcpListener, steps: Vec<Step>) -> Result<(), String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if start.elapsed() > PEER_WAIT {
                    return Err("no connection".into());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(PEER_WAIT))
        .map_err(|e| e.to_string())?;
    for (i, step) in steps.into_iter().enumerate() {
        run_step(&mut stream, &step).map_err(|e| format!("step {i} {step:?}: {e}"))?;
    }
    Ok(())
}

fn run_step(stream: &mut TcpStream, step: &Step) -> Result<(), String> {
    match step {
        Step::Send(bytes) => stream.write_all(bytes).map_err(|e| e.to_string()),
        Step::TrySend(bytes) => {
            let _ = stream.write_all(bytes);
            Ok(())
        }
        Step::Expect(want) => {
            let mut got = vec![0u8; want.len()];
            let mut filled = 0;
            while filled < want.len() {
                match stream.read(&mut got[filled..]) {
                    Ok(0) => {
                        return Err(format!(
                            "closed after {:?}, wanted {:?}",
                            String::from_utf8_lossy(&got[..filled]),
                            String::from_utf8_lossy(want)
                        ));
                    }
                    Ok(n) => filled += n,
                    Err(e) => {
                        return Err(format!(
                            "{e} after {:?}, wanted {:?}",
                            String::from_utf8_lossy(&got[..filled]),
                            String::from_utf8_lossy(want)
                        ));
                    }
                }
            }
            if &got == want {
                Ok(())
            } else {
                Err(format!(
                    "got {:?}, wanted {:?}",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(want)
                ))
            }
        }
        Step::Sleep(d) => {
            std::thread::sleep(*d);
            Ok(())
        }
        Step::ExpectClosedSilently => {
            let mut all = Vec::new();
            match stream.read_to_end(&mut all) {
                Ok(_) | Err(_) if all.is_empty() => Ok(()),
                _ => Err(format!(
                    "client sent {:?} instead of closing",
                    String::from_utf8_lossy(&all)
                )),
            }
        }
        Step::Drain => {
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
            Ok(())
        }
        Step::Close => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            Ok(())
        }
    }
}
