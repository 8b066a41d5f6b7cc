//! A pipelining sink for counting tests: it serves one connection on
//! 127.0.0.1, offers PIPELINING (and CHUNKING when asked), accepts
//! everything, and like Postfix answers all it has read in one write once
//! its input runs dry, so a reply group arrives in one segment. With it,
//! the counts of a driver's reads, writes and timeout changes
//! ([`Counts`]) per message.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use smtp_proto::{Envelope, ForwardPath, ReversePath};

/// How long the sink waits for the client before giving up.
const T: Duration = Duration::from_secs(10);

/// What the driver did to the stream.
#[derive(Debug, Default)]
pub struct Counts {
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    pub read_timeouts: AtomicUsize,
}

/// The counts at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub reads: usize,
    pub writes: usize,
    pub read_timeouts: usize,
}

impl Counts {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            reads: self.reads.load(Ordering::SeqCst),
            writes: self.writes.load(Ordering::SeqCst),
            read_timeouts: self.read_timeouts.load(Ordering::SeqCst),
        }
    }
}

impl Snapshot {
    pub fn since(self, before: Snapshot) -> Snapshot {
        Snapshot {
            reads: self.reads - before.reads,
            writes: self.writes - before.writes,
            read_timeouts: self.read_timeouts - before.read_timeouts,
        }
    }
}

/// A pipelining sink serving one connection: EHLO offers PIPELINING (and
/// CHUNKING when asked), everything is accepted, and the replies to all
/// it has read go out in one write when its input runs dry.
pub struct Sink {
    pub port: u16,
    handle: JoinHandle<io::Result<()>>,
}

impl Sink {
    /// Listens on a free port of 127.0.0.1 for one connection.
    pub fn start(chunking: bool) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept()?;
            serve(stream, chunking)
        });
        Sink { port, handle }
    }

    /// Waits for the connection to end; panics on the sink's IO error.
    pub fn finish(self) {
        self.handle.join().unwrap().unwrap();
    }
}

/// Where the sink is in the input.
enum Mode {
    Command,
    /// After 354: up to and with the lone ".".
    Data,
    /// After `BDAT n`: `n` more bytes.
    Bdat(usize),
}

/// Serves one connection until the client's QUIT or end of file.
pub fn serve(mut stream: TcpStream, chunking: bool) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(T))?;
    stream.write_all(b"220 sink.test ESMTP\r\n")?;
    let mut input: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    let mut mode = Mode::Command;
    let mut buf = [0u8; 64 * 1024];
    loop {
        // Everything complete in `input`, answered into `out`.
        loop {
            match mode {
                Mode::Command => {
                    let Some(end) = input.windows(2).position(|w| w == b"\r\n") else {
                        break;
                    };
                    let line: Vec<u8> = input.drain(..end + 2).collect();
                    let line = String::from_utf8_lossy(&line[..end]).to_ascii_uppercase();
                    let verb = line.split(' ').next().unwrap_or_default().to_owned();
                    match verb.as_str() {
                        "EHLO" | "LHLO" => {
                            out.extend_from_slice(b"250-sink.test\r\n250-PIPELINING\r\n");
                            if chunking {
                                out.extend_from_slice(b"250-CHUNKING\r\n");
                            }
                            out.extend_from_slice(b"250 8BITMIME\r\n");
                        }
                        "DATA" => {
                            out.extend_from_slice(b"354 go ahead\r\n");
                            mode = Mode::Data;
                        }
                        "BDAT" => {
                            let size = line.split(' ').nth(1).and_then(|n| n.parse().ok());
                            mode = Mode::Bdat(size.unwrap_or(0));
                        }
                        "QUIT" => {
                            out.extend_from_slice(b"221 bye\r\n");
                            return stream.write_all(&out);
                        }
                        _ => out.extend_from_slice(b"250 ok\r\n"),
                    }
                }
                Mode::Data => {
                    let end = if input.starts_with(b".\r\n") {
                        Some(3)
                    } else {
                        input
                            .windows(5)
                            .position(|w| w == b"\r\n.\r\n")
                            .map(|i| i + 5)
                    };
                    let Some(end) = end else { break };
                    input.drain(..end);
                    out.extend_from_slice(b"250 queued\r\n");
                    mode = Mode::Command;
                }
                Mode::Bdat(size) => {
                    if input.len() < size {
                        break;
                    }
                    input.drain(..size);
                    out.extend_from_slice(b"250 queued\r\n");
                    mode = Mode::Command;
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        input.extend_from_slice(&buf[..n]);
    }
}

pub fn envelope() -> Envelope {
    Envelope::new(
        ReversePath::parse("a@example.org").unwrap(),
        [ForwardPath::parse("b@example.org").unwrap()],
    )
}

/// A 1 KB message.
pub fn body() -> Vec<u8> {
    let mut b = b"Subject: count\r\n\r\n".to_vec();
    while b.len() < 1022 {
        b.extend_from_slice(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab\r\n");
    }
    b.truncate(1022);
    b.extend_from_slice(b"\r\n");
    b
}
