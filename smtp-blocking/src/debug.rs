//! The wire trace of `set_debuglevel`: what smtplib prints, minus the
//! credentials smtplib prints along with it.
//!
//! Level 1 writes one stderr line per protocol line (`C: ` for the client,
//! `S: ` for the server); level 2 prefixes each with a UTC time of day, as
//! smtplib's level 2 does. Redaction happens here, on the bytes about to be
//! written, so that no caller can forget it:
//!
//! - an `AUTH` line shows its mechanism, never its initial response;
//! - a write the driver marks as an answer to a 334 challenge is shown as
//!   `<redacted>` whatever it contains;
//! - message data is summarised by size, not printed (it is not protocol,
//!   and a 20 MB trace helps nobody).

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a write carries, for the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Command lines.
    Commands,
    /// An answer to an AUTH challenge.
    Secret,
    /// Message data (and BDAT headers, end-of-data).
    Body,
}

/// The trace state: level, and a partial server line.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub(crate) level: u8,
    partial: Vec<u8>,
}

impl Trace {
    pub(crate) fn enabled(&self) -> bool {
        self.level > 0
    }

    pub(crate) fn note(&self, text: &str) {
        if self.enabled() {
            self.emit("*", text.as_bytes());
        }
    }

    pub(crate) fn sent(&self, bytes: &[u8], kind: Sent) {
        if !self.enabled() || bytes.is_empty() {
            return;
        }
        match kind {
            Sent::Secret => self.emit("C:", b"<redacted>"),
            Sent::Body => {
                let msg = format!("<{} octets of message data>", bytes.len());
                self.emit("C:", msg.as_bytes());
            }
            Sent::Commands => {
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    self.emit("C:", &redact_line(line));
                }
            }
        }
    }

    pub(crate) fn received(&mut self, bytes: &[u8]) {
        if !self.enabled() {
            return;
        }
        self.partial.extend_from_slice(bytes);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            self.emit("S:", &line);
        }
        // A server that never ends its line must not grow the trace buffer
        // without bound; the engine's own limits end the session anyway.
        if self.partial.len() > 64 * 1024 {
            let line = std::mem::take(&mut self.partial);
            self.emit("S:", &line);
        }
    }

    fn emit(&self, who: &str, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        let mut err = std::io::stderr().lock();
        let _ = if self.level >= 2 {
            writeln!(err, "{} {who} {}", time_of_day(), text.escape_debug())
        } else {
            writeln!(err, "{who} {}", text.escape_debug())
        };
    }
}

/// `AUTH MECH <response>` becomes `AUTH MECH <redacted>`.
fn redact_line(line: &[u8]) -> Vec<u8> {
    let upper = line.get(..5).map(<[u8]>::to_ascii_uppercase);
    if upper.as_deref() != Some(b"AUTH ") {
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
    fn auth_lines_lose_their_payload() {
        assert_eq!(
            redact_line(b"AUTH PLAIN AHUAcA==\r\n"),
            b"AUTH PLAIN <redacted>"
        );
        assert_eq!(redact_line(b"auth login\r\n"), b"auth login");
        assert_eq!(redact_line(b"MAIL FROM:<a@b>\r\n"), b"MAIL FROM:<a@b>\r\n");
    }
}
