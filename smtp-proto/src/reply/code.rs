//! Reply codes (RFC 5321 §4.2) and enhanced status codes (RFC 3463).

use std::fmt;

/// A three-digit SMTP reply code whose digits follow RFC 5321 §4.2.
///
/// ```text
/// Reply-code = %x32-35 %x30-35 %x30-39
/// ```
///
/// The grammar is checked once, at construction, so the rest of the crate
/// can rely on [`ReplyCode::class`] being 2, 3, 4 or 5: a `1xx` or `6xx`
/// "code" from a confused peer is a parse error, never a reply whose class
/// matches none of the predicates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// `220`: the greeting, and the go-ahead for STARTTLS (RFC 5321 §4.2.3, RFC 3207 §4).
    pub const SERVICE_READY: ReplyCode = ReplyCode(220);
    /// `221`: the server is closing the channel, usually after QUIT (RFC 5321 §4.2.3).
    pub const CLOSING: ReplyCode = ReplyCode(221);
    /// `235`: authentication succeeded (RFC 4954 §6).
    pub const AUTH_SUCCESSFUL: ReplyCode = ReplyCode(235);
    /// `250`: the requested action completed (RFC 5321 §4.2.3).
    pub const OK: ReplyCode = ReplyCode(250);
    /// `251`: user not local, the server will forward; RCPT counts it as accepted (RFC 5321 §3.4).
    pub const WILL_FORWARD: ReplyCode = ReplyCode(251);
    /// `252`: VRFY cannot verify, the server will still try delivery (RFC 5321 §3.5.3).
    pub const CANNOT_VERIFY: ReplyCode = ReplyCode(252);
    /// `334`: an AUTH challenge follows (RFC 4954 §4).
    pub const AUTH_CONTINUE: ReplyCode = ReplyCode(334);
    /// `353`: per-recipient replies follow the end of data (PRDR, draft-hall-prdr-00).
    pub const PRDR_START: ReplyCode = ReplyCode(353);
    /// `354`: DATA accepted, the message content may be sent (RFC 5321 §4.1.1.4).
    pub const START_MAIL_INPUT: ReplyCode = ReplyCode(354);
    /// `421`: the service is closing the channel; the session is over (RFC 5321 §3.8).
    pub const SERVICE_NOT_AVAILABLE: ReplyCode = ReplyCode(421);
    /// `500`: command not recognised; one of the two replies that allow HELO after EHLO
    /// (RFC 5321 §4.1.4).
    pub const SYNTAX_ERROR: ReplyCode = ReplyCode(500);
    /// `501`: syntax error in parameters or arguments (RFC 5321 §4.2.3).
    pub const PARAMETER_SYNTAX_ERROR: ReplyCode = ReplyCode(501);
    /// `502`: command not implemented; the other reply that allows HELO after EHLO
    /// (RFC 5321 §4.1.4).
    pub const COMMAND_NOT_IMPLEMENTED: ReplyCode = ReplyCode(502);
    /// `503`: bad sequence of commands (RFC 5321 §4.2.3).
    pub const BAD_SEQUENCE: ReplyCode = ReplyCode(503);
    /// `504`: command parameter not implemented (RFC 5321 §4.2.3).
    pub const PARAMETER_NOT_IMPLEMENTED: ReplyCode = ReplyCode(504);

    /// Returns the code if its digits follow the RFC 5321 §4.2 grammar.
    ///
    /// The first digit must be 2-5, the second 0-5 and the third 0-9, so
    /// `new(250)` is `Some` while `new(260)`, `new(99)`, `new(600)` and
    /// `new(2500)` are `None`.
    pub const fn new(code: u16) -> Option<ReplyCode> {
        let class = code / 100;
        let category = (code / 10) % 10;
        if class >= 2 && class <= 5 && category <= 5 {
            Some(ReplyCode(code))
        } else {
            None
        }
    }

    /// Builds a code from its three ASCII digits, as they appear on the wire.
    pub(crate) const fn from_ascii(a: u8, b: u8, c: u8) -> Option<ReplyCode> {
        if matches!(a, b'2'..=b'5') && matches!(b, b'0'..=b'5') && c.is_ascii_digit() {
            let value = (a - b'0') as u16 * 100 + (b - b'0') as u16 * 10 + (c - b'0') as u16;
            Some(ReplyCode(value))
        } else {
            None
        }
    }

    /// Returns the three ASCII digits written on the wire.
    pub(crate) const fn to_ascii(self) -> [u8; 3] {
        let v = self.0;
        [
            b'0' + (v / 100 % 10) as u8,
            b'0' + (v / 10 % 10) as u8,
            b'0' + (v % 10) as u8,
        ]
    }

    /// Returns the numeric value, between 200 and 559.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Returns the first digit (2, 3, 4 or 5), which says whether the command
    /// succeeded, needs more input, or failed transiently or permanently
    /// (RFC 5321 §4.2.1).
    pub const fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// Returns `true` for `2xx`: the command was accepted and completed (RFC 5321 §4.2.1).
    pub const fn is_positive_completion(self) -> bool {
        self.class() == 2
    }

    /// Returns `true` for `3xx`: the command was accepted and the server waits
    /// for more input, such as the message after `354` or an AUTH response
    /// after `334` (RFC 5321 §4.2.1).
    pub const fn is_positive_intermediate(self) -> bool {
        self.class() == 3
    }

    /// Returns `true` for `4xx`: the command failed but the same request may
    /// succeed later (RFC 5321 §4.2.1).
    pub const fn is_transient_negative(self) -> bool {
        self.class() == 4
    }

    /// Returns `true` for `5xx`: the command failed and repeating it unchanged
    /// will fail again (RFC 5321 §4.2.1).
    pub const fn is_permanent_negative(self) -> bool {
        self.class() == 5
    }
}

impl fmt::Display for ReplyCode {
    /// Writes the three digits, e.g. `250`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<ReplyCode> for u16 {
    fn from(code: ReplyCode) -> u16 {
        code.0
    }
}

/// An enhanced mail system status code, such as `5.1.1` (RFC 3463).
///
/// Servers that advertise ENHANCEDSTATUSCODES (RFC 2034) put it at the start
/// of each reply line's text. It says more precisely than the reply code why
/// a recipient was refused (`5.1.1` no such mailbox, `4.2.2` mailbox full).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct EnhancedStatusCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject, 0-999: 1 addressing, 2 mailbox, 3 mail system, 4 network,
    /// 5 protocol, 6 content, 7 security (RFC 3463 §3).
    pub subject: u16,
    /// The detail within the subject, 0-999.
    pub detail: u16,
}

impl EnhancedStatusCode {
    /// Parses the status code at the start of a reply line's text.
    ///
    /// ```text
    /// status-code = class "." subject "." detail     ; RFC 3463 §2
    /// class       = "2" / "4" / "5"
    /// subject     = 1*3digit
    /// detail      = 1*3digit
    /// ```
    ///
    /// The code must be followed by SP or by the end of the text, so that
    /// `2.1.0 Ok` and `2.1.0` match while `2.1.0.1`, `2.1.0x` and `2.1000.0`
    /// do not: text that merely starts with digits is not mistaken for a code.
    pub fn parse(text: &[u8]) -> Option<EnhancedStatusCode> {
        let (&first, rest) = text.split_first()?;
        let class = match first {
            b'2' | b'4' | b'5' => first - b'0',
            _ => return None,
        };
        let rest = rest.strip_prefix(b".")?;
        let (subject, rest) = sub_code(rest)?;
        let rest = rest.strip_prefix(b".")?;
        let (detail, rest) = sub_code(rest)?;
        match rest.first() {
            None | Some(b' ') => Some(EnhancedStatusCode {
                class,
                subject,
                detail,
            }),
            Some(_) => None,
        }
    }
}

/// Reads `1*3digit` and returns its value and the bytes after it.
fn sub_code(input: &[u8]) -> Option<(u16, &[u8])> {
    let len = input
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=3).contains(&len) {
        return None;
    }
    let (digits, rest) = input.split_at_checked(len)?;
    let value = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    Some((value, rest))
}

impl fmt::Display for EnhancedStatusCode {
    /// Writes the dotted form, e.g. `5.1.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_code_grammar() {
        for v in 0..=10_000u16 {
            let expected = (200..=599).contains(&v) && (v / 10) % 10 <= 5;
            assert_eq!(ReplyCode::new(v).is_some(), expected, "{v}");
        }
    }

    #[test]
    fn reply_code_from_ascii_matches_new() {
        for a in 0..=255u8 {
            for b in [b'0', b'5', b'6', b'9', b'a', b'/'] {
                for c in [b'0', b'9', b':', b' '] {
                    let got = ReplyCode::from_ascii(a, b, c);
                    let text = [a, b, c];
                    let expected = std::str::from_utf8(&text)
                        .ok()
                        .filter(|s| s.bytes().all(|d| d.is_ascii_digit()))
                        .and_then(|s| s.parse::<u16>().ok())
                        .and_then(ReplyCode::new);
                    assert_eq!(got, expected, "{text:?}");
                    if let Some(code) = got {
                        assert_eq!(code.to_ascii(), text);
                    }
                }
            }
        }
    }

    #[test]
    fn reply_code_classes() {
        let ok = ReplyCode::OK;
        assert_eq!(ok.get(), 250);
        assert_eq!(ok.class(), 2);
        assert!(ok.is_positive_completion());
        assert!(!ok.is_positive_intermediate());
        assert!(ReplyCode::START_MAIL_INPUT.is_positive_intermediate());
        assert!(ReplyCode::SERVICE_NOT_AVAILABLE.is_transient_negative());
        assert!(ReplyCode::new(550).unwrap().is_permanent_negative());
        assert!(!ReplyCode::new(550).unwrap().is_transient_negative());
        assert_eq!(ReplyCode::new(421).unwrap().to_string(), "421");
        assert_eq!(u16::from(ReplyCode::SERVICE_READY), 220);
        assert!(ReplyCode::new(421).unwrap() < ReplyCode::new(550).unwrap());
    }

    #[test]
    fn named_codes_are_valid() {
        for code in [
            ReplyCode::SERVICE_READY,
            ReplyCode::CLOSING,
            ReplyCode::AUTH_SUCCESSFUL,
            ReplyCode::OK,
            ReplyCode::WILL_FORWARD,
            ReplyCode::CANNOT_VERIFY,
            ReplyCode::AUTH_CONTINUE,
            ReplyCode::START_MAIL_INPUT,
            ReplyCode::SERVICE_NOT_AVAILABLE,
            ReplyCode::SYNTAX_ERROR,
            ReplyCode::PARAMETER_SYNTAX_ERROR,
            ReplyCode::COMMAND_NOT_IMPLEMENTED,
            ReplyCode::BAD_SEQUENCE,
            ReplyCode::PARAMETER_NOT_IMPLEMENTED,
        ] {
            assert_eq!(ReplyCode::new(code.get()), Some(code));
        }
    }

    fn esc(class: u8, subject: u16, detail: u16) -> Option<EnhancedStatusCode> {
        Some(EnhancedStatusCode {
            class,
            subject,
            detail,
        })
    }

    #[test]
    fn enhanced_code_table() {
        let table: &[(&[u8], Option<EnhancedStatusCode>)] = &[
            (b"2.1.0 Ok", esc(2, 1, 0)),
            (b"2.1.0", esc(2, 1, 0)),
            (b"5.1.1 <x@y>: no such user", esc(5, 1, 1)),
            (b"4.999.123 busy", esc(4, 999, 123)),
            (b"5.01.001 x", esc(5, 1, 1)),
            (b"3.1.0 Ok", None),
            (b"1.1.0 Ok", None),
            (b"2.1000.0 Ok", None),
            (b"2.1.1000 Ok", None),
            (b"2..0 Ok", None),
            (b"2.1. Ok", None),
            (b"2.1 Ok", None),
            (b"2.1.0.1 Ok", None),
            (b"2.1.0x", None),
            (b"2.1.0\tOk", None),
            (b" 2.1.0 Ok", None),
            (b"Ok 2.1.0", None),
            (b"", None),
            (b"2", None),
            (b"2.", None),
            (b"\xff.1.0", None),
        ];
        for (text, expected) in table {
            assert_eq!(
                EnhancedStatusCode::parse(text),
                *expected,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn enhanced_code_display() {
        let code = EnhancedStatusCode::parse(b"5.7.1 denied").unwrap();
        assert_eq!(code.to_string(), "5.7.1");
    }
}
