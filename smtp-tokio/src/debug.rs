//! The wire trace of `set_debuglevel`: what smtplib prints, without the
//! credentials smtplib prints along with it.
//!
//! Level 1 writes one stderr line per protocol line (`C: ` client, `S: `
//! server, `* ` driver notes); level 2 prefixes each with the UTC time of
//! day. Redaction happens here, on the bytes about to be written, so no
//! caller can forget it: an `AUTH` line keeps its mechanism and loses its
//! initial response, an answer to a 334 challenge is `<redacted>`, and
//! message data is summarised by size.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a write carries, for the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Command lines.
    Commands,
    /// An answer to an AUTH challenge.
    Secret,
    /// Message data (and BDAT headers, end of data, pipelined commands
    /// sharing the write).
    Body,
}

/// The trace level and a partial server line.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub(crate) level: u8,
    partial: Vec<u8>,
}

/// Longest partial server line kept before it is printed anyway; the
/// engine's own limits end a session whose lines never end.
const MAX_PARTIAL: usize = 64 * 1024;

impl Trace {
    pub(crate) fn with_level(level: u8) -> Trace {
        Trace {
            level,
            partial: Vec::new(),
        }
    }

    fn on(&self) -> bool {
        self.level > 0
    }

    pub(crate) fn note(&self, text: &str) {
        if self.on() {
            self.emit("*", text.as_bytes());
        }
    }

    pub(crate) fn sent(&self, bytes: &[u8], kind: Sent) {
        if !self.on() || bytes.is_empty() {
            return;
        }
        match kind {
            Sent::Secret => self.emit("C:", b"<redacted>"),
            Sent::Body => {
                let summary = format!("<{} octets of message data>", bytes.len());
                self.emit("C:", summary.as_bytes());
            }
            Sent::Commands => {
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    self.emit("C:", &redact(line));
                }
            }
        }
    }

    pub(crate) fn received(&mut self, bytes: &[u8]) {
        if !self.on() {
            return;
        }
        self.partial.extend_from_slice(bytes);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            self.emit("S:", &line);
        }
        if self.partial.len() > MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial);
            self.emit("S:", &line);
        }
    }

    fn emit(&self, who: &str, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']).escape_debug();
        let mut err = std::io::stderr().lock();
        let _ = if self.level >= 2 {
            writeln!(err, "{} {who} {text}", time_of_day())
        } else {
            writeln!(err, "{who} {text}")
        };
    }
}

/// `AUTH MECH <response>` becomes `AUTH MECH <redacted>`.
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
fn time_of_day() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        now.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_payloads_are_redacted() {
        assert_eq!(redact(b"AUTH PLAIN AHUAcA==\r\n"), b"AUTH PLAIN <redacted>");
        assert_eq!(redact(b"auth login\r\n"), b"auth login");
        assert_eq!(redact(b"MAIL FROM:<a@b>\r\n"), b"MAIL FROM:<a@b>\r\n");
    }
}
