//! The Rust clients of the benchmark (issue 6), one per run, driven by
//! `scripts/bench/run.py` through `scripts/bench.sh`:
//!
//! ```text
//! smtp-bench CLIENT --port P [--messages N] [--size BYTES] [--rcpts R]
//!                   [--connections K] [--seconds T] [--stream] [--shape S]
//!                   [--from ADDRESS]
//! smtp-bench relay --port UPSTREAM [--delay-ms D] [--seconds LIFETIME]
//! ```
//!
//! CLIENT is one of
//! - `floor`: the wire floor, no library: pre-encoded bytes, one write per
//!   message carrying `body "." MAIL RCPT.. DATA`, then the replies read;
//!   K > 1 runs K threads. `--shape` selects diagnostic variants that
//!   price one adapter behaviour at a time (see `floor_shaped`).
//! - `ours-blocking`: `smtp_blocking::SmtpClient::sendmail` in a loop
//!   (with `--stream`: `send` from a generated reader); K > 1 runs K threads.
//! - `ours-blocking-many`: `smtp_blocking::SmtpClient::send_many` in
//!   batches of 1,000; K > 1 runs K threads, one connection each.
//! - `ours-tokio`: `smtp_tokio::SmtpClient::sendmail` in a loop, one
//!   connection (with `--stream`: `send` from a generated `AsyncRead`).
//! - `ours-tokio-many`: `SmtpClient::send_many` on one connection, or
//!   `Pool::send_many` over K connections.
//! - `ours-tokio-tasks`: K tasks, each calling `Pool::sendmail` in a loop.
//! - `lettre`: lettre's `SmtpTransport::send_raw` in a loop (pool of 1).
//! - `lettre-async`: K Tokio tasks calling `AsyncSmtpTransport::send_raw`
//!   over a pool of K.
//!
//! and `relay` is no client but the delaying TCP relay of workload (f): see
//! [`relay`].
//!
//! The envelope sender is `--from` (default `bench@example.org`; workload
//! (f) gives each run its own, to find and delete what Postfix delivered).
//! Every message is the same: a few header lines and 76-character lines of
//! clean text, `--size` bytes rounded down to whole lines; `--stream`
//! generates it on the fly instead of holding it (the floor and ours only).
//! The send stops after N messages or T seconds, whichever comes first, and
//! prints one line: `RESULT messages=M seconds=S bytes=B` (the time from
//! the first connect, after the messages were built, to the last reply).
//! Tokio runtimes are current-thread: the harness pins each client to one
//! core.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// When the clock started: just before the first connect, after the
/// messages were built.
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn go() {
    START.get_or_init(Instant::now);
}

const FROM: &str = "bench@example.org";
const HEADER: &[u8] =
    b"From: <bench@example.org>\r\nTo: <sink@example.org>\r\nSubject: benchmark message\r\n\r\n";
const LINE: &[u8; 78] =
    b"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijklmnopqrst\r\n";

#[derive(Clone)]
struct Args {
    client: String,
    port: u16,
    messages: usize,
    size: usize,
    rcpts: usize,
    connections: usize,
    seconds: f64,
    stream: bool,
    shape: String,
    from: String,
    delay_ms: f64,
}

fn parse_args() -> Res<Args> {
    let mut it = std::env::args().skip(1);
    let client = it.next().ok_or("usage: smtp-bench CLIENT --port P ...")?;
    let mut a = Args {
        client,
        port: 0,
        messages: 1000,
        size: 1024,
        rcpts: 1,
        connections: 1,
        seconds: 60.0,
        stream: false,
        shape: "pipelined".to_owned(),
        from: FROM.to_owned(),
        delay_ms: 5.0,
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => a.port = value()?.parse()?,
            "--messages" => a.messages = value()?.parse()?,
            "--size" => a.size = value()?.parse()?,
            "--rcpts" => a.rcpts = value()?.parse()?,
            "--connections" => a.connections = value()?.parse()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--stream" => a.stream = true,
            "--shape" => a.shape = value()?,
            "--from" => a.from = value()?,
            "--delay-ms" => a.delay_ms = value()?.parse()?,
            other => return Err(format!("unknown option {other:?}").into()),
        }
    }
    if a.port == 0 || a.messages == 0 || a.rcpts == 0 || a.connections == 0 {
        return Err("--port, --messages, --rcpts and --connections must be positive".into());
    }
    Ok(a)
}

fn recipients(n: usize) -> Vec<String> {
    if n == 1 {
        return vec!["sink@example.org".to_owned()];
    }
    (0..n).map(|i| format!("sink{i}@example.org")).collect()
}

/// A message of about `size` bytes, generated on the fly: `HEADER`, then
/// whole `LINE`s. Implements `Read` and Tokio's `AsyncRead`.
struct Gen {
    header_left: usize,
    body_left: usize,
    line_pos: usize,
    block: Arc<Vec<u8>>,
}

impl Gen {
    fn new(size: usize) -> Gen {
        let lines = (size.saturating_sub(HEADER.len()) / LINE.len()).max(1);
        // LINE repeated past 64 KiB, so any 64 KiB read starting at any
        // offset into a line is one slice.
        let mut block = Vec::with_capacity(65_536 + 2 * LINE.len());
        while block.len() < 65_536 + LINE.len() {
            block.extend_from_slice(LINE);
        }
        Gen {
            header_left: HEADER.len(),
            body_left: lines * LINE.len(),
            line_pos: 0,
            block: Arc::new(block),
        }
    }

    fn len(size: usize) -> usize {
        HEADER.len() + (size.saturating_sub(HEADER.len()) / LINE.len()).max(1) * LINE.len()
    }

    /// The next slice of at most `max` bytes (empty at the end).
    fn next_chunk(&mut self, max: usize) -> &[u8] {
        if self.header_left > 0 {
            let start = HEADER.len() - self.header_left;
            let n = self.header_left.min(max);
            self.header_left -= n;
            return &HEADER[start..start + n];
        }
        let n = self.body_left.min(max).min(65_536);
        let start = self.line_pos;
        self.body_left -= n;
        self.line_pos = (start + n) % LINE.len();
        &self.block[start..start + n]
    }

    fn to_vec(size: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(Gen::len(size));
        let mut g = Gen::new(size);
        loop {
            let c = g.next_chunk(usize::MAX);
            if c.is_empty() {
                return v;
            }
            v.extend_from_slice(c);
        }
    }
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let c = self.next_chunk(buf.len());
        let n = c.len();
        buf[..n].copy_from_slice(c);
        Ok(n)
    }
}

impl tokio::io::AsyncRead for Gen {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let c = self.next_chunk(buf.remaining());
        buf.put_slice(c);
        Poll::Ready(Ok(()))
    }
}

/// Splits `n` messages over `k` workers.
fn shares(n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
}

// ---------------------------------------------------------------- floor

/// Reads `n` complete replies; fails on anything but 2xx and 354.
fn read_replies(r: &mut impl BufRead, line: &mut String, n: usize) -> Res<()> {
    let mut done = 0;
    while done < n {
        line.clear();
        if r.read_line(line)? == 0 {
            return Err("connection closed".into());
        }
        let b = line.as_bytes();
        if b.len() < 4 || !(b[0] == b'2' || b.starts_with(b"354")) {
            return Err(format!("unexpected reply {line:?}").into());
        }
        if b[3] == b' ' {
            done += 1;
        }
    }
    Ok(())
}

fn floor_conn(a: &Args, n: usize, msg: &[u8], deadline: Instant) -> Res<usize> {
    let s = TcpStream::connect(("127.0.0.1", a.port))?;
    s.set_nodelay(true)?;
    let mut r = BufReader::with_capacity(16 * 1024, s.try_clone()?);
    let mut w = s;
    let mut line = String::new();
    read_replies(&mut r, &mut line, 1)?;
    w.write_all(b"EHLO bench.example.org\r\n")?;
    read_replies(&mut r, &mut line, 1)?;
    let mut cmds = format!("MAIL FROM:<{}>\r\n", a.from).into_bytes();
    for to in recipients(a.rcpts) {
        cmds.extend_from_slice(format!("RCPT TO:<{to}>\r\n").as_bytes());
    }
    cmds.extend_from_slice(b"DATA\r\n");
    let group = 2 + a.rcpts;
    // In memory: one write per message, `body "." MAIL RCPT.. DATA`.
    let mut next = msg.to_vec();
    next.extend_from_slice(b".\r\n");
    let end = next.len();
    next.extend_from_slice(&cmds);
    if a.shape != "pipelined" && !a.stream {
        return floor_shaped(a, n, msg, &cmds, (r, w, line), deadline);
    }
    w.write_all(&cmds)?;
    read_replies(&mut r, &mut line, group)?;
    let mut sent = 0;
    loop {
        sent += 1;
        let last = sent == n || Instant::now() >= deadline;
        if a.stream {
            let mut g = Gen::new(a.size);
            loop {
                let c = g.next_chunk(usize::MAX);
                if c.is_empty() {
                    break;
                }
                w.write_all(c)?;
            }
            w.write_all(if last {
                b".\r\nQUIT\r\n"
            } else {
                &next[end - 3..]
            })?;
        } else if last {
            w.write_all(&next[..end])?;
            w.write_all(b"QUIT\r\n")?;
        } else {
            w.write_all(&next)?;
        }
        if last {
            read_replies(&mut r, &mut line, 2)?;
            return Ok(sent);
        }
        read_replies(&mut r, &mut line, 1 + group)?;
    }
}

type Conn = (BufReader<TcpStream>, TcpStream, String);

/// Diagnostic shapes of the floor (`--shape`), to price what the adapters
/// do differently, one thing at a time:
/// - `split`: pipelined across messages, but the body and `"." MAIL RCPT..
///   DATA` in two writes;
/// - `lockstep`: one message per round trip pair, as a per-message API must:
///   `MAIL RCPT.. DATA` in one write, its replies, then `body "."` in one
///   write and its reply;
/// - `lockstep-split`: the same with the body and `"."` in two writes;
/// - `lockstep-split-sockopt`: and a `setsockopt(SO_RCVTIMEO)` before each read.
fn floor_shaped(
    a: &Args,
    n: usize,
    msg: &[u8],
    cmds: &[u8],
    (mut r, mut w, mut line): Conn,
    deadline: Instant,
) -> Res<usize> {
    let group = 2 + a.rcpts;
    let mut body_dot = msg.to_vec();
    body_dot.extend_from_slice(b".\r\n");
    let mut dot_cmds = b".\r\n".to_vec();
    dot_cmds.extend_from_slice(cmds);
    let (split, lockstep, sockopt) = match a.shape.as_str() {
        "split" => (true, false, false),
        "lockstep" => (false, true, false),
        "lockstep-split" => (true, true, false),
        "lockstep-split-sockopt" => (true, true, true),
        other => return Err(format!("unknown --shape {other:?}").into()),
    };
    let sock = w.try_clone()?;
    let read = |r: &mut BufReader<TcpStream>, line: &mut String, k: usize| -> Res<()> {
        if sockopt {
            sock.set_read_timeout(Some(Duration::from_secs(120)))?;
        }
        read_replies(r, line, k)
    };
    let mut sent = 0;
    if lockstep {
        while sent < n && (sent == 0 || Instant::now() < deadline) {
            w.write_all(cmds)?;
            read(&mut r, &mut line, group)?;
            if split {
                w.write_all(msg)?;
                w.write_all(b".\r\n")?;
            } else {
                w.write_all(&body_dot)?;
            }
            read(&mut r, &mut line, 1)?;
            sent += 1;
        }
    } else {
        w.write_all(cmds)?;
        read(&mut r, &mut line, group)?;
        loop {
            sent += 1;
            let last = sent == n || Instant::now() >= deadline;
            w.write_all(msg)?;
            w.write_all(if last { b".\r\n" } else { &dot_cmds })?;
            read(&mut r, &mut line, if last { 1 } else { 1 + group })?;
            if last {
                break;
            }
        }
    }
    w.write_all(b"QUIT\r\n")?;
    read(&mut r, &mut line, 1)?;
    Ok(sent)
}

fn floor(a: &Args, deadline: Instant) -> Res<usize> {
    let msg = if a.stream {
        Vec::new()
    } else {
        Gen::to_vec(a.size)
    };
    go();
    if a.connections == 1 {
        return floor_conn(a, a.messages, &msg, deadline);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = shares(a.messages, a.connections)
            .into_iter()
            .filter(|&n| n > 0)
            .map(|n| {
                let msg = &msg;
                s.spawn(move || floor_conn(a, n, msg, deadline))
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.join().map_err(|_| "thread panicked")??;
        }
        Ok(total)
    })
}

// ---------------------------------------------------------------- ours

fn ours_blocking_conn(a: &Args, n: usize, msg: &[u8], deadline: Instant) -> Res<usize> {
    use smtp_blocking::smtp_proto::{BodyOptions, Envelope, ForwardPath, ReversePath, TxnOutcome};
    let mut c = smtp_blocking::Builder::new()
        .insecure_plaintext()
        .timeout(Duration::from_secs(120))
        .connect_port("127.0.0.1", a.port)?;
    let to = recipients(a.rcpts);
    let envelope = Envelope::new(
        ReversePath::parse(&a.from)?,
        to.iter()
            .map(|t| ForwardPath::parse(t))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let mut sent = 0;
    while sent < n && (sent == 0 || Instant::now() < deadline) {
        if a.stream {
            let report = c.send_report(&envelope, Gen::new(a.size), BodyOptions::default())?;
            if report.outcome != TxnOutcome::Delivered {
                return Err(format!("not delivered: {report:?}").into());
            }
        } else {
            let refused = c.sendmail(&a.from, &to, msg, &[], &[])?;
            if !refused.is_empty() {
                return Err(format!("refused: {refused:?}").into());
            }
        }
        sent += 1;
    }
    c.quit()?;
    Ok(sent)
}

fn ours_blocking(a: &Args, deadline: Instant) -> Res<usize> {
    let msg = if a.stream {
        Vec::new()
    } else {
        Gen::to_vec(a.size)
    };
    go();
    std::thread::scope(|s| {
        let handles: Vec<_> = shares(a.messages, a.connections)
            .into_iter()
            .filter(|&n| n > 0)
            .map(|n| {
                let msg = &msg;
                s.spawn(move || ours_blocking_conn(a, n, msg, deadline))
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.join().map_err(|_| "thread panicked")??;
        }
        Ok(total)
    })
}

fn ours_blocking_many_conn(
    a: &Args,
    n: usize,
    messages: &[(smtp_blocking::smtp_proto::Envelope, &[u8])],
    deadline: Instant,
) -> Res<usize> {
    let mut c = smtp_blocking::Builder::new()
        .insecure_plaintext()
        .timeout(Duration::from_secs(120))
        .connect_port("127.0.0.1", a.port)?;
    let mut sent = 0;
    while sent < n && (sent == 0 || Instant::now() < deadline) {
        let k = (n - sent).min(messages.len());
        sent += check_reports(c.send_many(&messages[..k]))?;
    }
    c.quit()?;
    Ok(sent)
}

/// `send_many` of the blocking adapter: batches of 1,000 (between deadline
/// checks) on one connection, or on each of K threads.
fn ours_blocking_many(a: &Args, deadline: Instant) -> Res<usize> {
    let msg = Gen::to_vec(a.size);
    let envelope = proto_envelope(a)?;
    let messages: Vec<(smtp_blocking::smtp_proto::Envelope, &[u8])> = (0..a.messages.min(1000))
        .map(|_| (envelope.clone(), &msg[..]))
        .collect();
    go();
    std::thread::scope(|s| {
        let handles: Vec<_> = shares(a.messages, a.connections)
            .into_iter()
            .filter(|&n| n > 0)
            .map(|n| {
                let messages = &messages;
                s.spawn(move || ours_blocking_many_conn(a, n, messages, deadline))
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.join().map_err(|_| "thread panicked")??;
        }
        Ok(total)
    })
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn proto_envelope(a: &Args) -> Res<smtp_tokio::smtp_proto::Envelope> {
    use smtp_tokio::smtp_proto::{Envelope, ForwardPath, ReversePath};
    Ok(Envelope::new(
        ReversePath::parse(&a.from)?,
        recipients(a.rcpts)
            .iter()
            .map(|t| ForwardPath::parse(t))
            .collect::<Result<Vec<_>, _>>()?,
    ))
}

fn ours_tokio(a: &Args, deadline: Instant) -> Res<usize> {
    use smtp_tokio::smtp_proto::{BodyOptions, TxnOutcome};
    let msg = if a.stream {
        Vec::new()
    } else {
        Gen::to_vec(a.size)
    };
    let to = recipients(a.rcpts);
    let envelope = proto_envelope(a)?;
    go();
    runtime()?.block_on(async {
        let mut c = smtp_tokio::Builder::new()
            .insecure_plaintext()
            .timeout(Duration::from_secs(120))
            .connect_port("127.0.0.1", a.port)
            .await?;
        let mut sent = 0;
        while sent < a.messages && (sent == 0 || Instant::now() < deadline) {
            if a.stream {
                let report = c
                    .send_report(&envelope, Gen::new(a.size), BodyOptions::default())
                    .await?;
                if report.outcome != TxnOutcome::Delivered {
                    return Err(format!("not delivered: {report:?}").into());
                }
            } else {
                let refused = c.sendmail(&a.from, &to, &msg, &[], &[]).await?;
                if !refused.is_empty() {
                    return Err(format!("refused: {refused:?}").into());
                }
            }
            sent += 1;
        }
        c.quit().await?;
        Ok(sent)
    })
}

fn check_reports(
    got: Vec<Result<smtp_tokio::smtp_proto::TxnReport, smtp_tokio::Error>>,
) -> Res<usize> {
    // One error type for both adapters: `smtp_proto::session::Error`.
    let n = got.len();
    for r in got {
        let r = r?;
        if r.outcome != smtp_tokio::smtp_proto::TxnOutcome::Delivered {
            return Err(format!("not delivered: {r:?}").into());
        }
    }
    Ok(n)
}

fn ours_tokio_many(a: &Args, deadline: Instant) -> Res<usize> {
    let msg = Gen::to_vec(a.size);
    let envelope = proto_envelope(a)?;
    // Batches of 1,000 per connection between deadline checks.
    let batch = 1000 * a.connections;
    let messages: Vec<(smtp_tokio::smtp_proto::Envelope, &[u8])> = (0..a.messages.min(batch))
        .map(|_| (envelope.clone(), &msg[..]))
        .collect();
    let builder = smtp_tokio::Builder::new()
        .insecure_plaintext()
        .timeout(Duration::from_secs(120));
    go();
    runtime()?.block_on(async {
        let mut sent = 0;
        if a.connections == 1 {
            let mut c = builder.connect_port("127.0.0.1", a.port).await?;
            while sent < a.messages && (sent == 0 || Instant::now() < deadline) {
                let n = (a.messages - sent).min(batch);
                sent += check_reports(c.send_many(&messages[..n]).await)?;
            }
            c.quit().await?;
        } else {
            let config = smtp_tokio::PoolConfig::default()
                .with_max_size(a.connections)
                .with_max_messages(None);
            let pool = smtp_tokio::Pool::new(builder, &format!("127.0.0.1:{}", a.port), config);
            while sent < a.messages && (sent == 0 || Instant::now() < deadline) {
                let n = (a.messages - sent).min(batch);
                sent += check_reports(pool.send_many(&messages[..n]).await)?;
            }
            pool.close().await;
        }
        Ok(sent)
    })
}

fn ours_tokio_tasks(a: &Args, deadline: Instant) -> Res<usize> {
    let msg = Arc::new(Gen::to_vec(a.size));
    let to = Arc::new(recipients(a.rcpts));
    go();
    runtime()?.block_on(async {
        let config = smtp_tokio::PoolConfig::default()
            .with_max_size(a.connections)
            .with_max_messages(None);
        let builder = smtp_tokio::Builder::new()
            .insecure_plaintext()
            .timeout(Duration::from_secs(120));
        let pool = smtp_tokio::Pool::new(builder, &format!("127.0.0.1:{}", a.port), config);
        let mut tasks = tokio::task::JoinSet::new();
        for n in shares(a.messages, a.connections) {
            let (pool, msg, to) = (pool.clone(), Arc::clone(&msg), Arc::clone(&to));
            let from = a.from.clone();
            tasks.spawn(async move {
                let mut sent = 0;
                while sent < n && (sent == 0 || Instant::now() < deadline) {
                    let refused = pool.sendmail(&from, to.as_slice(), &msg, &[], &[]).await?;
                    if !refused.is_empty() {
                        return Err(format!("refused: {refused:?}").into());
                    }
                    sent += 1;
                }
                Res::Ok(sent)
            });
        }
        let mut total = 0;
        while let Some(r) = tasks.join_next().await {
            total += r??;
        }
        pool.close().await;
        Ok(total)
    })
}

// ---------------------------------------------------------------- lettre

fn lettre_envelope(a: &Args) -> Res<lettre::address::Envelope> {
    let to = recipients(a.rcpts)
        .iter()
        .map(|t| t.parse())
        .collect::<Result<Vec<lettre::Address>, _>>()?;
    Ok(lettre::address::Envelope::new(Some(a.from.parse()?), to)?)
}

fn lettre_sync(a: &Args, deadline: Instant) -> Res<usize> {
    use lettre::Transport;
    use lettre::transport::smtp::{PoolConfig, SmtpTransport};
    let msg = Gen::to_vec(a.size);
    let envelope = lettre_envelope(a)?;
    go();
    let t = SmtpTransport::builder_dangerous("127.0.0.1")
        .port(a.port)
        .timeout(Some(Duration::from_secs(120)))
        .pool_config(PoolConfig::new().max_size(1))
        .build();
    let mut sent = 0;
    while sent < a.messages && (sent == 0 || Instant::now() < deadline) {
        t.send_raw(&envelope, &msg)?;
        sent += 1;
    }
    drop(t); // QUIT on the pooled connection
    Ok(sent)
}

fn lettre_async(a: &Args, deadline: Instant) -> Res<usize> {
    use lettre::transport::smtp::PoolConfig;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let msg = Arc::new(Gen::to_vec(a.size));
    let envelope = Arc::new(lettre_envelope(a)?);
    go();
    runtime()?.block_on(async {
        let t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(a.port)
            .timeout(Some(Duration::from_secs(120)))
            .pool_config(PoolConfig::new().max_size(a.connections as u32))
            .build();
        let mut tasks = tokio::task::JoinSet::new();
        for n in shares(a.messages, a.connections) {
            let (t, msg, envelope) = (t.clone(), Arc::clone(&msg), Arc::clone(&envelope));
            tasks.spawn(async move {
                let mut sent = 0;
                while sent < n && (sent == 0 || Instant::now() < deadline) {
                    t.send_raw(&envelope, &msg).await?;
                    sent += 1;
                }
                Res::Ok(sent)
            });
        }
        let mut total = 0;
        while let Some(r) = tasks.join_next().await {
            total += r??;
        }
        Ok(total)
    })
}

// ---------------------------------------------------------------- relay

/// The delaying relay of workload (f): listens on an ephemeral port of
/// 127.0.0.1, prints `RELAY port=N` (then serves), and joins each accepted
/// connection to a new one to 127.0.0.1:`--port`. Each direction is a
/// reader thread and a writer thread: every chunk read is stamped with its
/// arrival time and written `--delay-ms` later, in order (one FIFO queue
/// per direction, so the delay adds latency, never a throughput limit: the
/// reader keeps reading while earlier chunks wait). TCP_NODELAY on both
/// sides; an end of stream is passed on (shutdown of the write side) once
/// the data before it has gone. Bounded in time: a read or write that
/// waits `RELAY_IDLE` ends its direction, and the whole process exits after
/// `--seconds`.
fn relay(a: &Args) -> Res<usize> {
    use std::net::TcpListener;
    let delay = Duration::from_secs_f64(a.delay_ms / 1000.0);
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    println!("RELAY port={}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    let lifetime = Duration::from_secs_f64(a.seconds);
    std::thread::spawn(move || {
        std::thread::sleep(lifetime);
        eprintln!("relay: lifetime of {lifetime:?} over, exiting");
        std::process::exit(0);
    });
    let upstream = ("127.0.0.1", a.port);
    let mut conns = 0;
    for client in listener.incoming() {
        let client = client?;
        conns += 1;
        std::thread::spawn(move || {
            if let Err(e) = relay_conn(client, upstream, delay) {
                eprintln!("relay: connection {conns}: {e}");
            }
        });
    }
    Ok(conns)
}

/// A direction that waits this long for a read or a write ends.
const RELAY_IDLE: Duration = Duration::from_secs(60);

fn relay_conn(client: TcpStream, upstream: (&str, u16), delay: Duration) -> Res<()> {
    let server = TcpStream::connect(upstream)?;
    for s in [&client, &server] {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(RELAY_IDLE))?;
        s.set_write_timeout(Some(RELAY_IDLE))?;
    }
    let (c2, s2) = (client.try_clone()?, server.try_clone()?);
    let up = std::thread::spawn(move || relay_direction(client, server, delay));
    relay_direction(s2, c2, delay);
    up.join().map_err(|_| "relay thread panicked")?;
    Ok(())
}

/// Copies `from` to `to`, each chunk `delay` after it was read.
fn relay_direction(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    // Bounded, but far above what a 5 ms delay ever holds at these rates.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Instant, Vec<u8>)>(4096);
    let writer = std::thread::spawn(move || {
        for (at, chunk) in rx {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            if to.write_all(&chunk).is_err() {
                let _ = to.shutdown(std::net::Shutdown::Both);
                return; // drops rx: the reader's next send fails
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = vec![0; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default().to_vec();
                if tx.send((Instant::now() + delay, chunk)).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    drop(tx);
    let _ = writer.join();
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if a.client == "relay" {
        return match relay(&a) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(a.seconds);
    let sent = match a.client.as_str() {
        "floor" => floor(&a, deadline),
        "ours-blocking" => ours_blocking(&a, deadline),
        "ours-blocking-many" => ours_blocking_many(&a, deadline),
        "ours-tokio" => ours_tokio(&a, deadline),
        "ours-tokio-many" => ours_tokio_many(&a, deadline),
        "ours-tokio-tasks" => ours_tokio_tasks(&a, deadline),
        "lettre" => lettre_sync(&a, deadline),
        "lettre-async" => lettre_async(&a, deadline),
        other => Err(format!("unknown client {other:?}").into()),
    };
    let seconds = START.get().unwrap_or(&started).elapsed().as_secs_f64();
    match sent {
        Ok(n) => {
            println!(
                "RESULT messages={n} seconds={seconds:.6} bytes={}",
                n * Gen::len(a.size)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
