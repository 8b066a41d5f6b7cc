//! Many SMTP sessions on one thread, over non-blocking sockets and `mio`:
//! a complete third driver for [`smtp_proto::session::Session`].
//!
//! The session decides everything. An adapter only has to:
//!
//! 1. move bytes: write what `poll_transmit` gives (keeping what a full
//!    socket did not take until it is writable again), and hand what it
//!    reads to `handle_input`, `handle_eof` or `handle_io_error`;
//! 2. run the TLS handshake when told to (`Action::StartTls`; not here);
//! 3. hand over body bytes when asked (`Action::Body`);
//! 4. wait until the socket is readable or `poll_timeout` has passed (here
//!    one `mio::Poll` for all sessions, bounded by the earliest deadline),
//!    and call `handle_timeout` when it has.
//!
//! Usage: `many_sessions [ADDR] [CONNECTIONS] [MESSAGES_PER_CONNECTION]`
//! (default: the project's smtp-sink, `127.0.0.1:25252 200 50`). Each
//! connection sends its messages one by one with `sendmail`, then QUITs.
//! Exits with 0 only when every message was accepted.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Registry, Token, net::TcpStream};
use smtp_proto::session::{Action, Error, Options, Session, TlsPolicy};
use smtp_proto::{Domain, Reply, smtplib::Refused};

/// The whole run ends by then, finished or not.
const GLOBAL_DEADLINE: Duration = Duration::from_secs(120);

/// Which operation a connection is running.
enum Step {
    Opening,        // the greeting and the first EHLO
    Sending(usize), // `sendmail` of message n
    Quitting,
}

/// One connection: its socket (`None` once closed) and its session.
struct Conn {
    id: usize,
    socket: Option<TcpStream>,
    session: Session,
    step: Step,
    /// Bytes taken from the session that the socket has not taken yet.
    out: Vec<u8>,
    /// The part of the message not yet handed to the session.
    msg: Vec<u8>,
    accepted: usize,
    refused: usize,
    error: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i, default: &str| std::env::args().nth(i).unwrap_or_else(|| default.into());
    let addr: SocketAddr = arg(1, "127.0.0.1:25252").parse()?;
    let conns: usize = arg(2, "200").parse()?;
    let messages: usize = arg(3, "50").parse()?;
    let started = Instant::now();
    let give_up = started + GLOBAL_DEADLINE;

    let mut poll = Poll::new()?;
    // Plain TCP to a local sink: this driver does no TLS (the default requires it).
    let mut options = Options::default();
    options.tls_policy = Some(TlsPolicy::Disabled);
    let local = Domain::parse("client.example.test")?;
    let open = |id| Conn::open(id, addr, poll.registry(), &options, &local);
    let mut all: Vec<Conn> = (0..conns).map(open).collect();
    let (mut events, mut buf) = (Events::with_capacity(1024), vec![0; 16 * 1024]);
    // Every session runs once; then those whose socket or deadline says so.
    for c in &mut all {
        c.drive(&mut buf, poll.registry(), messages);
    }
    while all.iter().any(|c| c.socket.is_some()) {
        let now = Instant::now();
        if now >= give_up {
            println!("global deadline ({GLOBAL_DEADLINE:?}) passed: giving up");
            break;
        }
        // Wait for the sockets, or for the earliest deadline of all.
        let deadlines = all.iter().filter_map(Conn::deadline);
        let next = deadlines.fold(give_up, Instant::min);
        match poll.poll(&mut events, Some(next.saturating_duration_since(now))) {
            Err(e) if e.kind() != ErrorKind::Interrupted => return Err(e.into()),
            _ => {}
        }
        let now = Instant::now();
        let mut ready: Vec<usize> = events.iter().map(|e| e.token().0).collect();
        let due = |c: &&Conn| c.deadline().is_some_and(|d| d <= now);
        ready.extend(all.iter().filter(due).map(|c| c.id));
        for &i in &ready {
            let Some(c) = all.get_mut(i) else { continue };
            c.drive(&mut buf, poll.registry(), messages);
        }
    }

    let elapsed = started.elapsed().as_secs_f64();
    for c in &all {
        if c.accepted < messages || c.error.is_some() {
            let why = c.error.as_deref().unwrap_or("unfinished");
            let (id, accepted, refused) = (c.id, c.accepted, c.refused);
            println!("connection {id}: {accepted}/{messages} accepted, {refused} refused: {why}");
        }
    }
    let accepted: usize = all.iter().map(|c| c.accepted).sum();
    let failed = conns * messages - accepted;
    println!("sessions: {conns}, messages: {accepted} accepted, {failed} failed");
    let rate = accepted as f64 / elapsed;
    println!("elapsed: {elapsed:.2} s, {rate:.0} msg/s");
    std::process::exit(i32::from(failed > 0));
}

impl Conn {
    /// A non-blocking connect, and a session whose first operation (the
    /// greeting and EHLO) is running.
    fn open(id: usize, addr: SocketAddr, reg: &Registry, opts: &Options, local: &Domain) -> Conn {
        let socket = TcpStream::connect(addr).and_then(|mut s| {
            s.set_nodelay(true)?;
            reg.register(&mut s, Token(id), Interest::READABLE | Interest::WRITABLE)?;
            Ok(s)
        });
        Conn {
            id,
            error: socket.as_ref().err().map(|e| format!("connect: {e}")),
            socket: socket.ok(),
            session: Session::connect(opts, local.clone(), false, Instant::now()),
            step: Step::Opening,
            out: Vec::new(),
            msg: Vec::new(),
            accepted: 0,
            refused: 0,
        }
    }

    /// When the session must be woken up without input (never once closed).
    fn deadline(&self) -> Option<Instant> {
        self.socket.as_ref().and(self.session.poll_timeout())
    }

    /// Runs the session as far as it goes without blocking: returns when
    /// the socket would block (mio then wakes us up) or once closed.
    fn drive(&mut self, buf: &mut [u8], reg: &Registry, messages: usize) {
        while let Some(socket) = self.socket.as_mut() {
            let now = Instant::now();
            let action = self.session.poll_action(now);
            if action == Action::Done {
                self.next_operation(reg, messages, now);
                continue;
            }
            // Bytes that came while no reply was awaited go in before the
            // next command goes out: they are then judged unsolicited.
            if !self.session.is_awaiting_reply() && read(socket, &mut self.session, buf, now) {
                continue;
            }
            let fresh = self.session.poll_transmit(now, &mut self.out).is_some();
            if let Err(e) = flush(socket, &mut self.out) {
                self.session.handle_io_error(now, e);
                continue;
            }
            if fresh {
                continue; // the action may have changed
            }
            match action {
                // Only once the socket took the rest: at most a chunk waits.
                Action::Body { .. } if self.out.is_empty() => {
                    let mut rest = self.msg.as_slice();
                    self.session.push_slice(&mut rest);
                    let pushed = self.msg.len() - rest.len();
                    self.msg.drain(..pushed);
                }
                Action::Read | Action::Body { .. } => {
                    if read(socket, &mut self.session, buf, now) {
                        continue;
                    }
                    if self.deadline().is_none_or(|d| d > now) {
                        return; // wait for readable, writable or the deadline
                    }
                    self.session.handle_timeout(now);
                }
                // No TLS and no AUTH in this example.
                Action::StartTls => self.session.tls_failed(Error::NotSupported("TLS".into())),
                _ => self.session.abort(Error::NotSupported("AUTH".into())),
            }
        }
    }

    /// Takes the finished operation's result and starts the next one, or
    /// closes the socket when the script is over or the session unusable.
    fn next_operation(&mut self, reg: &Registry, messages: usize, now: Instant) {
        let (result, next) = match self.step {
            Step::Opening => (self.session.take_output::<()>(), 0),
            Step::Sending(n) => match self.session.take_output::<Refused>() {
                Ok(r) if !r.is_empty() => (Err(Error::RecipientsRefused { recipients: r }), n + 1),
                other => (other.map(|_| self.accepted += 1), n + 1),
            },
            Step::Quitting => (self.session.take_output::<Reply>().map(drop), usize::MAX),
        };
        if let Err(e) = result {
            // A refused message leaves the session usable: go on with the next.
            let refused = matches!(self.step, Step::Sending(_)) && self.session.is_connected();
            self.refused += usize::from(refused);
            self.error = Some(e.to_string());
        }
        if next < messages && self.session.is_connected() {
            self.step = Step::Sending(next);
            let from = "sender@example.test";
            let to = format!("c{}.m{next}@example.test", self.id);
            self.msg = message(self.id, next);
            self.session.sendmail(now, from, &to, &self.msg, &[], &[]);
        } else if next == messages && self.session.is_connected() {
            self.step = Step::Quitting;
            self.session.quit(now);
        } else if let Some(mut socket) = self.socket.take() {
            let _ = reg.deregister(&mut socket); // then closed by the drop
        }
    }
}

/// Writes what the socket takes; the rest waits for it to be writable.
fn flush(socket: &mut TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    while !out.is_empty() {
        match socket.write(out) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => _ = out.drain(..n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One read handed to the session; false when there was nothing to read.
fn read(socket: &mut TcpStream, session: &mut Session, buf: &mut [u8], now: Instant) -> bool {
    match socket.read(buf) {
        Ok(0) => session.handle_eof(now),
        Ok(n) => session.handle_input(now, buf.get(..n).unwrap_or_default()),
        Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
        Err(e) if e.kind() == ErrorKind::Interrupted => {}
        Err(e) => session.handle_io_error(now, e),
    }
    true
}

/// A message of about 1 KB with a unique Subject.
fn message(conn: usize, n: usize) -> Vec<u8> {
    let head = format!("Subject: message {n} of connection {conn}\r\n\r\n");
    let line = "The quick brown fox jumps over the lazy dog, again and again.\r\n";
    (head + &line.repeat(16)).into_bytes()
}
