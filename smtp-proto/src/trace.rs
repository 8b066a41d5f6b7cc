//! The wire trace behind the adapters' `set_debuglevel`: what smtplib
//! prints, minus the credentials smtplib prints along with it.
//!
//! Level 1 writes one line per protocol line (`C: ` for the client, `S: `
//! for the server, `* ` for an adapter's notes); level 2 prefixes each with
//! a UTC time of day, as smtplib's level 2 does. Which client bytes are
//! sensitive is protocol knowledge, so the redaction lives here, on the
//! bytes about to be written, and no adapter can forget or diverge from it:
//!
//! - an `AUTH` line shows its mechanism, never its initial response;
//! - a write the adapter marks [`Sent::Secret`] (the answer to a 334
//!   challenge) is shown as `<redacted>` whatever it contains;
//! - a write marked [`Sent::Body`] is summarised by size, not printed (it is
//!   not protocol, and a 20 MB trace helps nobody).
//!
//! Like the rest of this crate, [`Trace`] reads no clock and opens nothing:
//! the adapter gives it the writer (stderr) once, and the wall-clock time
//! (used at level 2 only) with every call.
//!
//! ```
//! use std::time::SystemTime;
//! use smtp_proto::trace::{Sent, Trace};
//!
//! let mut trace = Trace::new(1, Vec::new());
//! trace.sent(b"AUTH PLAIN AHUAcA==\r\n", Sent::Commands, SystemTime::now());
//! assert_eq!(trace.get_ref(), b"C: AUTH PLAIN <redacted>\n");
//! ```
//!
//! # With the `tracing` feature
//!
//! The feature `tracing` (off by default; `smtp-blocking` and `smtp-tokio`
//! forward it under the same name) makes every
//! [`Session`](crate::session::Session) also report through the
//! [`tracing`](https://docs.rs/tracing) crate, target
//! `smtp_proto::session`, whatever the `set_debuglevel` level (the wire
//! trace above is unchanged and independent of it):
//!
//! | what | level | fields |
//! | --- | --- | --- |
//! | span `smtp.session` | INFO | `dialect` (`smtp`/`lmtp`), `local` (the EHLO name), `tls` (implicit TLS), `peer` (the host the adapter connected to, from [`Session::set_peer`](crate::session::Session::set_peer)), `server` (the first word of the greeting: the name the server gives itself) |
//! | span `smtp.transaction`, child of the session's | INFO | `txn` (the [`TxnId`](crate::TxnId)'s number), `recipients`, then on its end `outcome`, `accepted`, `delivered` |
//! | event `sent` per command line | DEBUG | `command`, shown exactly as the wire trace shows it: `AUTH` initial responses and answers to challenges are `<redacted>` |
//! | event `sent message data` per body write | TRACE | `octets` (never the content) |
//! | event `received` per server reply | DEBUG | `code`, `reply` (its lines, control characters escaped, joined by `\n`) |
//! | events `MAIL answered`, `RCPT answered`, `ready for the message data`, `end of data answered`, in the transaction's span | DEBUG | `code`, `rcpt`, `accepted` |
//! | event `transaction finished`, in the transaction's span | INFO | `outcome`, `recipients`, `accepted`, `delivered` |
//! | event `session failed` (a fatal error: the session is unusable) | WARN | `error` |
//! | the session's and the driver's notes (TLS handshake, closed connection) | DEBUG | message |
//!
//! Redaction is the wire trace's: both go through one function here that
//! decides, for each client write and the [`Sent`] kind the session gives
//! it, what may be shown. No password, token or AUTH payload reaches an
//! event or a field.
//!
//! **Design.** The core is sans-IO and one session is driven by calls
//! that an async driver interleaves with other tasks at its await points,
//! so no span is ever *entered* by the session: entering one in a call and
//! leaving it in a later one would attach other tasks' events to it (the
//! reason `tracing` warns against holding a guard across `.await`).
//! Instead the session owns its `tracing::Span`s (the session's, created
//! in [`Session::connect`](crate::session::Session::connect) as a child of
//! the span current there, and one per open transaction) and emits every
//! event with an explicit `parent:`. That works the same under a blocking
//! driver, an async one, or one thread driving many sessions. A
//! transaction's span opens when its MAIL is first written and closes when
//! its report has been recorded; commands and replies belong to the
//! session's span (with pipelining one write or one read carries several
//! transactions' lines), the per-transaction replies are repeated, as codes,
//! in the transaction's span.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// What one client write carries; the adapter knows it (it made the call
/// that produced the bytes), the trace decides what that means for display.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Command lines: printed, with `AUTH` initial responses redacted.
    Commands,
    /// An answer to an AUTH challenge: printed as `<redacted>`, because the
    /// answer is a password, a token or a digest whatever the mechanism.
    Secret,
    /// Message data (and BDAT headers, end of data, pipelined commands
    /// sharing the write): printed as an octet count, because message
    /// content is neither protocol nor the trace's business.
    Body,
}

/// Longest partial server line kept before it is printed anyway, so that a
/// server that never ends its line cannot grow the trace without bound (the
/// engine's own limits end such a session).
const MAX_PARTIAL: usize = 64 * 1024;

/// One session's trace: its level, its writer, and the server line read so
/// far.
///
/// The adapter owns one per connection and feeds it every write and read.
/// Write errors are ignored: the trace is diagnostics, and a closed stderr
/// must neither fail nor change the session it describes.
#[derive(Debug)]
pub struct Trace<W> {
    level: u8,
    out: W,
    partial: Lines,
}

impl<W: Write> Trace<W> {
    /// A trace at `level` writing to `out`: 0 off, 1 the conversation, 2
    /// the conversation with timestamps (smtplib's `set_debuglevel` values).
    pub fn new(level: u8, out: W) -> Self {
        Self {
            level,
            out,
            partial: Lines::default(),
        }
    }

    /// The current level, as last set.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Changes the level mid-session (smtplib allows it at any time).
    pub fn set_level(&mut self, level: u8) {
        self.level = level;
    }

    /// Whether anything will be written, so a caller can skip building a
    /// note nobody will read.
    pub fn is_enabled(&self) -> bool {
        self.level > 0
    }

    /// The writer, e.g. to read back a `Vec<u8>` in tests.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The writer, mutably, e.g. to clear a `Vec<u8>` between checks.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes an adapter's own note (`* text`): TLS handshakes, fatal errors,
    /// closed connections, which are not wire bytes but explain them.
    pub fn note(&mut self, text: &str, now: SystemTime) {
        if self.is_enabled() {
            self.emit("*", text.as_bytes(), now);
        }
    }

    /// Writes the client bytes of one write, redacted according to `kind`.
    pub fn sent(&mut self, bytes: &[u8], kind: Sent, now: SystemTime) {
        if !self.is_enabled() {
            return;
        }
        for_each_shown(bytes, kind, |shown| match shown {
            Shown::Line(line) => self.emit("C:", &line, now),
            Shown::Secret => self.emit("C:", REDACTED.as_bytes(), now),
            Shown::Body(octets) => {
                let summary = format!("<{octets} octets of message data>");
                self.emit("C:", summary.as_bytes(), now);
            }
        });
    }

    /// Writes every complete server line in `bytes`, keeping a partial line
    /// until its end arrives (reads do not follow line boundaries).
    pub fn received(&mut self, bytes: &[u8], now: SystemTime) {
        if !self.is_enabled() {
            return;
        }
        let mut lines = std::mem::take(&mut self.partial);
        lines.push(bytes, |line| self.emit("S:", line, now));
        self.partial = lines;
    }

    /// One output line: optional time, who, and the text with its line end
    /// removed and control characters escaped (a server must not be able to
    /// drive the terminal the trace is read on).
    fn emit(&mut self, who: &str, line: &[u8], now: SystemTime) {
        let text = printable(line);
        let _ = if self.level >= 2 {
            writeln!(self.out, "{} {who} {text}", time_of_day(now))
        } else {
            writeln!(self.out, "{who} {text}")
        };
    }
}

/// What stands for a credential in the trace and in `tracing` events.
pub(crate) const REDACTED: &str = "<redacted>";

/// How one piece of a client write may be shown. This is the one
/// redaction decision: [`Trace`] prints it and, with the `tracing`
/// feature, the session's events carry it, so the two cannot diverge.
#[derive(Debug)]
pub(crate) enum Shown<'a> {
    /// A command line, as sent or with its AUTH initial response replaced
    /// by `<redacted>` (see [`redact`]).
    Line(std::borrow::Cow<'a, [u8]>),
    /// An answer to an AUTH challenge: nothing of it may be shown.
    Secret,
    /// Message data (and whatever shares its write): only its size.
    Body(usize),
}

/// Calls `f` with what may be shown of one client write marked `kind`:
/// one [`Shown::Line`] per command line, or one [`Shown::Secret`] or
/// [`Shown::Body`] for the whole write (nothing for an empty write).
pub(crate) fn for_each_shown(bytes: &[u8], kind: Sent, mut f: impl FnMut(Shown<'_>)) {
    if bytes.is_empty() {
        return;
    }
    match kind {
        Sent::Secret => f(Shown::Secret),
        Sent::Body => f(Shown::Body(bytes.len())),
        Sent::Commands => {
            for line in bytes.split_inclusive(|&b| b == b'\n') {
                f(Shown::Line(redact(line)));
            }
        }
    }
}

/// A protocol line as text: lossy UTF-8, its line end removed and control
/// characters escaped (a server must not be able to drive the terminal the
/// trace or the log is read on).
pub(crate) fn printable(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    text.trim_end_matches(['\r', '\n'])
        .escape_debug()
        .to_string()
}

/// Server bytes cut into lines, whatever the reads' boundaries: the part
/// of a line whose end has not arrived is kept, up to [`MAX_PARTIAL`]
/// bytes.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// Appends `bytes` and calls `f` with each line completed (its line
    /// end included), or with the partial line once it is too long.
    pub(crate) fn push(&mut self, bytes: &[u8], mut f: impl FnMut(&[u8])) {
        self.partial.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(rest) = self.partial.get(start..)
            && let Some(pos) = rest.iter().position(|&b| b == b'\n')
        {
            let end = start + pos + 1;
            f(self.partial.get(start..end).unwrap_or_default());
            start = end;
        }
        self.partial.drain(..start);
        if self.partial.len() > MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial);
            f(&line);
        }
    }
}

/// `AUTH MECH <response>` becomes `AUTH MECH <redacted>`; other lines are
/// returned as they are.
fn redact(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let is_auth = line
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"AUTH "));
    if !is_auth {
        return std::borrow::Cow::Borrowed(line);
    }
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    let verb = words.next().unwrap_or_default();
    let mech = words.next().unwrap_or_default();
    let shown = if words.next().is_some() {
        format!("{verb} {mech} {REDACTED}")
    } else {
        format!("{verb} {mech}")
    };
    std::borrow::Cow::Owned(shown.into_bytes())
}

/// `HH:MM:SS.mmmmmm` in UTC, without a date library.
fn time_of_day(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        since.subsec_micros()
    )
}

#[cfg(feature = "tracing")]
pub(crate) mod spans;
#[cfg(test)]
mod tests;
