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
    partial: Vec<u8>,
}

impl<W: Write> Trace<W> {
    /// A trace at `level` writing to `out`: 0 off, 1 the conversation, 2
    /// the conversation with timestamps (smtplib's `set_debuglevel` values).
    pub fn new(level: u8, out: W) -> Self {
        Self {
            level,
            out,
            partial: Vec::new(),
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
        if !self.is_enabled() || bytes.is_empty() {
            return;
        }
        match kind {
            Sent::Secret => self.emit("C:", b"<redacted>", now),
            Sent::Body => {
                let summary = format!("<{} octets of message data>", bytes.len());
                self.emit("C:", summary.as_bytes(), now);
            }
            Sent::Commands => {
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    self.emit("C:", &redact(line), now);
                }
            }
        }
    }

    /// Writes every complete server line in `bytes`, keeping a partial line
    /// until its end arrives (reads do not follow line boundaries).
    pub fn received(&mut self, bytes: &[u8], now: SystemTime) {
        if !self.is_enabled() {
            return;
        }
        self.partial.extend_from_slice(bytes);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            self.emit("S:", &line, now);
        }
        if self.partial.len() > MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial);
            self.emit("S:", &line, now);
        }
    }

    /// One output line: optional time, who, and the text with its line end
    /// removed and control characters escaped (a server must not be able to
    /// drive the terminal the trace is read on).
    fn emit(&mut self, who: &str, line: &[u8], now: SystemTime) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']).escape_debug();
        let _ = if self.level >= 2 {
            writeln!(self.out, "{} {who} {text}", time_of_day(now))
        } else {
            writeln!(self.out, "{who} {text}")
        };
    }
}

/// `AUTH MECH <response>` becomes `AUTH MECH <redacted>`; other lines are
/// returned as they are.
fn redact(line: &[u8]) -> Vec<u8> {
    let is_auth = line
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"AUTH "));
    if !is_auth {
        return line.to_vec();
    }
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    let verb = words.next().unwrap_or_default();
    let mech = words.next().unwrap_or_default();
    if words.next().is_some() {
        format!("{verb} {mech} <redacted>").into_bytes()
    } else {
        format!("{verb} {mech}").into_bytes()
    }
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

#[cfg(test)]
mod tests;
