//! The soak tests' shared half: the messages (each with its own recipient
//! and Message-ID), the audit of what the project's Postfix stored against
//! what the client reported, and a relay that cuts connections at random
//! points. Both adapters' `tests/soak.rs` send; this module judges.
//!
//! The audit's rules, for every message of a run:
//! - reported delivered: stored exactly once, under the queue id its final
//!   reply named;
//! - reported unknown (the end of data got no reply): stored at most once;
//! - reported anything else (refused, aborted, never attempted): not stored;
//! - nothing stored that belongs to no message of the run, nothing stored
//!   twice.
//!
//! With the [`CuttingRelay`] between client and server one more rule
//! holds: a message is unknown exactly when its final reply never reached
//! the client, so a message whose "queued as" reply the relay forwarded
//! must not be reported unknown.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smtp_proto::session::Error;
use smtp_proto::{Envelope, ForwardPath, ReversePath, TxnOutcome, TxnReport};

use crate::real_servers::token;

/// The soak's size: `SOAK_MESSAGES` and `SOAK_CONNECTIONS` override the CI
/// defaults (10,000 messages over 50 connections); `SOAK_SEED` the relay's
/// seed.
pub struct Plan {
    pub messages: usize,
    pub connections: usize,
    pub seed: u64,
}

impl Plan {
    pub fn from_env(messages: usize, connections: usize) -> Plan {
        let get = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Plan {
            messages: usize::try_from(get("SOAK_MESSAGES", messages as u64)).unwrap(),
            connections: usize::try_from(get("SOAK_CONNECTIONS", connections as u64)).unwrap(),
            seed: get("SOAK_SEED", 0x5eed_5eed),
        }
    }
}

/// A run's messages: message `i` goes from `soak@example.org` to
/// `soak-RUN-i@example.org` alone, with `Message-ID: <RUN.i@soak.test>`.
pub struct Run {
    pub id: String,
    pub messages: Vec<(Envelope, Vec<u8>)>,
}

impl Run {
    pub fn new(tag: &str, count: usize) -> Run {
        let id = token(tag).replace('_', "-");
        let messages = (0..count)
            .map(|i| {
                let to = format!("soak-{id}-{i}@example.org");
                let envelope = Envelope::new(
                    ReversePath::parse("soak@example.org").unwrap(),
                    [ForwardPath::parse(&to).unwrap()],
                );
                let body = format!(
                    "From: soak@example.org\r\nTo: {to}\r\nMessage-ID: <{id}.{i}@soak.test>\r\n\
                     Subject: soak {i}\r\n\r\nmessage {i} of run {id}\r\n"
                )
                .into_bytes();
                (envelope, body)
            })
            .collect();
        Run { id, messages }
    }

    /// The message index of a stored recipient of this run.
    fn index_of(&self, rcpt: &str) -> Option<usize> {
        rcpt.strip_prefix(&format!("soak-{}-", self.id))?
            .strip_suffix("@example.org")?
            .parse()
            .ok()
    }
}

/// What the client said about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Said {
    /// Delivered; the queue id of its final reply.
    Delivered(String),
    /// The end of data got no reply.
    Unknown,
    /// Not delivered (refused, aborted or never attempted), and why.
    NotDelivered(String),
}

/// Classifies one result of `send_many`.
pub fn said(result: &Result<TxnReport, Error>) -> Said {
    let report = match result {
        Ok(report) => report,
        Err(Error::NotDelivered { report }) => report,
        Err(e) if e.is_outcome_unknown() => return Said::Unknown,
        Err(e) => return Said::NotDelivered(e.to_string()),
    };
    match report.outcome {
        TxnOutcome::Delivered => {
            let text = report
                .recipients
                .iter()
                .find_map(|r| r.delivery_reply.as_ref())
                .map(|r| r.text_lossy())
                .unwrap_or_default();
            match text.rsplit_once("queued as ") {
                Some((_, id)) => Said::Delivered(id.trim().to_owned()),
                None => Said::Delivered(String::new()),
            }
        }
        TxnOutcome::Unknown => Said::Unknown,
        other => Said::NotDelivered(format!("{other:?}")),
    }
}

/// One stored delivery: its queue id and the run's message index.
#[derive(Clone, Debug)]
struct Stored {
    queue_id: String,
    index: usize,
}

/// Reads the Postfix spool for `run`'s messages, waiting (bounded by
/// `wait`) until at least `expect` deliveries of the run are there and
/// the count has stopped growing for a second.
/// What the spool holds of `run`, once every message in `must` (those
/// reported delivered) is there and nothing new came for a second, or
/// after `wait`. Waiting for a count instead would return early when
/// messages reported unknown but stored after all fill it up while a
/// delivered one is still on its way through a busy Postfix.
fn stored(spool: &Path, run: &Run, must: &BTreeSet<usize>, wait: Duration) -> Vec<Stored> {
    let started = Instant::now();
    let mut last = (0usize, Instant::now());
    loop {
        let found = scan(spool, run);
        if found.len() != last.0 {
            last = (found.len(), Instant::now());
        }
        let settled = last.1.elapsed() >= Duration::from_secs(1);
        let present: BTreeSet<usize> = found.iter().map(|s| s.index).collect();
        let complete = must.is_subset(&present);
        if (complete && settled) || started.elapsed() >= wait {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn scan(spool: &Path, run: &Run) -> Vec<Stored> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(spool) else {
        return out;
    };
    let needle = format!("soak-{}-", run.id);
    for entry in dir.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(queue_id) = name.strip_suffix(".env") else {
            continue;
        };
        let Ok(env) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if !env.contains(&needle) {
            continue;
        }
        for rcpt in env.lines().filter_map(|l| l.strip_prefix("rcpt ")) {
            if let Some(index) = run.index_of(rcpt) {
                out.push(Stored {
                    queue_id: queue_id.split('.').next().unwrap_or(queue_id).to_owned(),
                    index,
                });
            }
        }
    }
    out
}

/// The cut run's audit and its own checks, shared by both adapters' soak
/// tests: the spool audited against the results and what the relay
/// forwarded, then the relay must have cut often (at least 10 times) and
/// the cuts must have cost something, while some messages still got
/// through. `SOAK_DEBUG=1` first lists every message not delivered with its
/// result.
pub fn audit_cut_run(
    spool: &Path,
    run: &Run,
    results: &[Result<TxnReport, Error>],
    relay: &CuttingRelay,
) -> Audit {
    if std::env::var_os("SOAK_DEBUG").is_some() {
        for (i, r) in results.iter().enumerate() {
            match r {
                Ok(report) if report.all_delivered() => {}
                Ok(report) => eprintln!("{i}: report {}", report.summary()),
                Err(e) => eprintln!("{i}: error {e}"),
            }
        }
    }
    let figures = audit(spool, run, results, Some(&relay.forwarded()));
    let cuts = relay.cuts();
    eprintln!("cut soak: {} cuts: {figures:?}", cuts.len());
    assert!(
        cuts.len() >= 10,
        "the relay cut connections: {}",
        cuts.len()
    );
    assert!(figures.delivered > 0, "some messages got through");
    assert!(
        figures.not_delivered + figures.unknown > 0,
        "cuts cost something"
    );
    figures
}

/// The audit's figures.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Audit {
    pub delivered: usize,
    pub unknown: usize,
    pub not_delivered: usize,
    /// Unknown and stored after all.
    pub unknown_stored: usize,
    pub lost: usize,
    pub duplicated: usize,
}

/// Audits `results` (one per message of `run`, in order) against the
/// spool. `forwarded`: every byte the relay passed from the server to the
/// client, when there was a relay. Panics with every violation listed.
pub fn audit(
    spool: &Path,
    run: &Run,
    results: &[Result<TxnReport, Error>],
    forwarded: Option<&[u8]>,
) -> Audit {
    assert_eq!(results.len(), run.messages.len(), "one result per message");
    let said: Vec<Said> = results.iter().map(said).collect();
    let delivered = said
        .iter()
        .filter(|s| matches!(s, Said::Delivered(_)))
        .count();
    let unknown = said.iter().filter(|s| **s == Said::Unknown).count();
    let must: BTreeSet<usize> = said
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, Said::Delivered(_)))
        .map(|(i, _)| i)
        .collect();
    let stored = stored(spool, run, &must, Duration::from_secs(120));
    let mut per_message: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for s in &stored {
        per_message
            .entry(s.index)
            .or_default()
            .push(s.queue_id.clone());
    }
    let replied: BTreeSet<String> = forwarded
        .map(|bytes| {
            String::from_utf8_lossy(bytes)
                .lines()
                .filter_map(|l| l.rsplit_once("queued as "))
                .map(|(_, id)| id.trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut figures = Audit {
        delivered,
        unknown,
        not_delivered: said.len() - delivered - unknown,
        ..Audit::default()
    };
    for (i, s) in said.iter().enumerate() {
        let copies = per_message.get(&i).map_or(&[][..], Vec::as_slice);
        if copies.len() > 1 {
            figures.duplicated += 1;
            problems.push(format!(
                "message {i} stored {} times: {copies:?}",
                copies.len()
            ));
        }
        match s {
            Said::Delivered(id) => {
                if copies.is_empty() {
                    figures.lost += 1;
                    problems.push(format!(
                        "message {i} reported delivered ({id}) but not stored"
                    ));
                } else if !id.is_empty() && !copies.contains(id) {
                    problems.push(format!(
                        "message {i} reported delivered as {id} but stored as {copies:?}"
                    ));
                }
            }
            Said::Unknown => {
                if !copies.is_empty() {
                    figures.unknown_stored += 1;
                }
                if let Some(id) = copies.iter().find(|id| replied.contains(*id)) {
                    problems.push(format!(
                        "message {i} reported unknown, but its final reply ({id}) reached the client"
                    ));
                }
            }
            Said::NotDelivered(why) => {
                if !copies.is_empty() {
                    problems.push(format!(
                        "message {i} reported not delivered ({why}) but stored as {copies:?}"
                    ));
                }
            }
        }
    }
    for s in &stored {
        if s.index >= run.messages.len() {
            problems.push(format!("stored {} belongs to no message", s.queue_id));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems ({figures:?}):\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    figures
}

// ------------------------------------------------------------- the relay

/// A small deterministic generator (xorshift64*): the relay's choices
/// repeat for a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as usize
    }
}

/// How the relay ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Both sides closed (the client sees an end of file).
    Close,
    /// `421 4.3.2` to the client, then closed.
    Reply421,
}

/// A TCP relay to `upstream` that ends each connection at a random point:
/// after a random number (in `every`) of "queued as" replies it forwards
/// a random 0 to 7 further replies, then cuts: it closes both sides (the
/// replies still on their way are lost), or it stops passing the client's
/// bytes on, forwards what the server still answers, and says 421 (chosen
/// at random). What it forwarded from the server is kept for the audit,
/// and it does reach the client: the relay closes its side to the client
/// with a lingering close (see `relay`), never a reset.
pub struct CuttingRelay {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    forwarded: Arc<Mutex<Vec<u8>>>,
    cuts: Arc<Mutex<Vec<Cut>>>,
    accept: Option<JoinHandle<()>>,
}

impl CuttingRelay {
    pub fn start(upstream: SocketAddr, seed: u64, every: (usize, usize)) -> CuttingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let forwarded = Arc::new(Mutex::new(Vec::new()));
        let cuts = Arc::new(Mutex::new(Vec::new()));
        let (s, f, c) = (stop.clone(), forwarded.clone(), cuts.clone());
        let accept = std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            let mut pipes = Vec::new();
            while !s.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let plan = (rng.range(every.0, every.1), rng.range(0, 7), {
                            if rng.next_u64().is_multiple_of(2) {
                                Cut::Close
                            } else {
                                Cut::Reply421
                            }
                        });
                        let (f, c) = (f.clone(), c.clone());
                        pipes.push(std::thread::spawn(move || {
                            relay(client, upstream, plan, &f, &c);
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for p in pipes {
                let _ = p.join();
            }
        });
        CuttingRelay {
            addr,
            stop,
            forwarded,
            cuts,
            accept: Some(accept),
        }
    }

    /// Everything forwarded from the server so far.
    pub fn forwarded(&self) -> Vec<u8> {
        self.forwarded.lock().unwrap().clone()
    }

    /// The cuts made so far.
    pub fn cuts(&self) -> Vec<Cut> {
        self.cuts.lock().unwrap().clone()
    }
}

impl Drop for CuttingRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// One relayed connection: client bytes go up as they come; server bytes
/// come down line by line until the cut. A [`Cut::Reply421`] first stops
/// passing the client's bytes up and lets the server answer everything it
/// already has, then says 421: like a server that closes between two
/// commands, never one that swallows a reply it gave.
fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    (replies, extra, cut): (usize, usize, Cut),
    forwarded: &Mutex<Vec<u8>>,
    cuts: &Mutex<Vec<Cut>>,
) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let limit = Some(Duration::from_secs(30));
    let _ = client.set_read_timeout(limit);
    let _ = server.set_read_timeout(limit);
    let (Ok(mut up_from), Ok(mut up_to), Ok(server_side)) =
        (client.try_clone(), server.try_clone(), server.try_clone())
    else {
        return;
    };
    let up = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = up_from.read(&mut buf) {
            if n == 0 || up_to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = up_to.shutdown(Shutdown::Write);
    });
    let (mut down_from, mut down_to) = (server, client);
    let mut line = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut queued = 0usize;
    let mut after: Option<usize> = None;
    let mut closing = false;
    'outer: while let Ok(n) = down_from.read(&mut buf) {
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            line.push(b);
            if b != b'\n' {
                continue;
            }
            if down_to.write_all(&line).is_err() {
                break 'outer;
            }
            forwarded.lock().unwrap().extend_from_slice(&line);
            let last_line = line.get(3) == Some(&b' ');
            if last_line && line.windows(10).any(|w| w == b"queued as ") {
                queued += 1;
            }
            line.clear();
            if closing {
                continue;
            }
            if let Some(left) = after.as_mut() {
                if last_line {
                    *left = left.saturating_sub(1);
                }
            } else if queued >= replies {
                after = Some(extra);
            }
            if after == Some(0) {
                cuts.lock().unwrap().push(cut);
                if cut == Cut::Close {
                    break 'outer;
                }
                // The server gets nothing more: it answers what it has,
                // sees the end of file and closes; all of that goes down.
                closing = true;
                let _ = server_side.shutdown(Shutdown::Write);
            }
        }
    }
    if closing {
        let _ = down_to.write_all(b"421 4.3.2 relay closing the connection\r\n");
    }
    // A lingering close: the end of file goes out behind everything
    // written, and the client's bytes still coming are read and dropped
    // until it closes too. Closing a socket with unread input sends a
    // reset instead, and the kernel then drops what was written and not
    // yet sent: the client would never get replies recorded as forwarded.
    let _ = down_from.shutdown(Shutdown::Both);
    let _ = down_to.shutdown(Shutdown::Write);
    let _ = up.join();
    let _ = down_to.set_read_timeout(Some(Duration::from_millis(200)));
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < until {
        match down_to.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
}
