//! EHLO capabilities: what a server advertised in its `250` reply to EHLO
//! (RFC 5321 §4.1.1.1) or LHLO (RFC 2033 §4.1).
//!
//! The first line of that reply is the server's domain and greeting; every
//! other line names one service extension and its parameters:
//!
//! ```text
//! ehlo-line    = ehlo-keyword *( SP ehlo-param )
//! ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//! ehlo-param   = 1*(%d33-126)
//! ```
//!
//! Keywords are case-insensitive (`pipelining` is PIPELINING). The parsed
//! [`Extensions`] behave like Python smtplib's `esmtp_features` and
//! `has_extn`, with typed accessors on top for the extensions the engine
//! acts on, so that no caller re-parses `SIZE` or `AUTH` text itself.

use std::collections::{HashMap, HashSet};

use crate::reply::{Reply, ReplyCode};

/// The service extensions a server advertised, parsed from its EHLO or LHLO
/// reply.
///
/// Lookups are case-insensitive. Each keyword appears once, at the place
/// where it was first advertised; a keyword advertised twice keeps the
/// parameters of its last line (as smtplib does), except AUTH, whose lines
/// are merged. The old `AUTH=LOGIN PLAIN` form, still sent by some servers
/// for clients that predate RFC 4954, counts as AUTH too.
///
/// Lines whose keyword does not follow the RFC 5321 §4.1.1.1 grammar (an
/// empty line, a leading space, a `=` or `_` in the keyword, ...) are
/// skipped: they advertise nothing we could act on. Parameter bytes that are
/// not UTF-8 are kept, replaced by U+FFFD.
///
/// ```
/// use smtp_proto::ehlo::Extensions;
///
/// let lines: [&[u8]; 4] = [b"pipelining", b"SIZE 35882577", b"AUTH=LOGIN", b"AUTH PLAIN LOGIN"];
/// let ext = Extensions::from_lines(lines);
/// assert!(ext.pipelining());
/// assert_eq!(ext.size(), Some(35_882_577));
/// assert_eq!(ext.auth_mechanisms(), ["LOGIN", "PLAIN"]);
/// assert_eq!(ext.params("auth"), Some("LOGIN PLAIN LOGIN"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `(lower-case keyword, parameters)`, one entry per keyword, in the
    /// order first advertised.
    entries: Vec<(String, String)>,
    /// SASL mechanism names: upper-case, valid, de-duplicated, in the order
    /// advertised.
    auth: Vec<String>,
    /// The keywords the client acts on, one bit per [`Known`], found once
    /// when parsing: the engine asks some of them for every command.
    known: u16,
}

/// The keywords the client acts on (see [`Extensions::known`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    Pipelining,
    StartTls,
    EightBitMime,
    SmtpUtf8,
    Chunking,
    BinaryMime,
    EnhancedStatusCodes,
    Dsn,
    RequireTls,
}

impl Known {
    const ALL: [(Known, &'static str); 9] = [
        (Known::Pipelining, "pipelining"),
        (Known::StartTls, "starttls"),
        (Known::EightBitMime, "8bitmime"),
        (Known::SmtpUtf8, "smtputf8"),
        (Known::Chunking, "chunking"),
        (Known::BinaryMime, "binarymime"),
        (Known::EnhancedStatusCodes, "enhancedstatuscodes"),
        (Known::Dsn, "dsn"),
        (Known::RequireTls, "requiretls"),
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl Extensions {
    /// Parses the reply to EHLO or LHLO.
    ///
    /// The first line (the server's domain and greeting) is skipped. A reply
    /// whose code is not `250` advertises nothing (RFC 5321 §4.1.1.1 allows
    /// only `250` as a positive EHLO reply), so it gives empty extensions.
    pub fn from_reply(reply: &Reply) -> Self {
        if reply.code() != ReplyCode::OK {
            return Self::default();
        }
        Self::from_lines(reply.lines().skip(1))
    }

    /// Parses keyword lines: the text of each line after `250-` or `250 `,
    /// without the CRLF, and without the greeting line.
    ///
    /// Work is linear in the size of the input, however many keywords or
    /// AUTH mechanisms it repeats.
    pub fn from_lines<'a, I: IntoIterator<Item = &'a [u8]>>(lines: I) -> Self {
        let mut ext = Self::default();
        // Keyword -> position in `entries`, and the mechanisms seen so far,
        // so that repetitions do not make the parse quadratic.
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut mechanisms: HashSet<String> = HashSet::new();
        for line in lines {
            let line = trim_end_blanks(line);
            let (keyword, params) = match split_old_auth(line) {
                Some(params) => ("auth".to_owned(), params),
                None => {
                    let (keyword, rest) = split_keyword(line);
                    if !is_ehlo_keyword(keyword) {
                        continue;
                    }
                    (
                        String::from_utf8_lossy(keyword).to_ascii_lowercase(),
                        trim_start_blanks(rest),
                    )
                }
            };
            let params = String::from_utf8_lossy(params);
            let is_auth = keyword == "auth";
            if is_auth {
                for name in params.split_ascii_whitespace() {
                    let name = name.to_ascii_uppercase();
                    if is_sasl_mech(&name) && mechanisms.insert(name.clone()) {
                        ext.auth.push(name);
                    }
                }
            }
            match index.get(&keyword).and_then(|&i| ext.entries.get_mut(i)) {
                Some((_, old)) if is_auth => {
                    if !params.is_empty() {
                        if !old.is_empty() {
                            old.push(' ');
                        }
                        old.push_str(&params);
                    }
                }
                Some((_, old)) => *old = params.into_owned(),
                None => {
                    if let Some((known, _)) = Known::ALL.iter().find(|(_, k)| *k == keyword) {
                        ext.known |= known.bit();
                    }
                    index.insert(keyword.clone(), ext.entries.len());
                    ext.entries.push((keyword, params.into_owned()));
                }
            }
        }
        ext
    }

    /// Whether `keyword` was advertised (the same answer as
    /// [`has`](Self::has), without the search).
    fn known(&self, keyword: Known) -> bool {
        self.known & keyword.bit() != 0
    }

    /// Whether `keyword` was advertised, ignoring case (smtplib's
    /// `has_extn`).
    pub fn has(&self, keyword: &str) -> bool {
        self.params(keyword).is_some()
    }

    /// The parameters advertised with `keyword` (ignoring case): the text
    /// after the keyword and its space, `""` when there is none, `None` when
    /// the keyword was not advertised. For AUTH it is the parameters of
    /// every AUTH line, joined by a space, as in smtplib's `esmtp_features`.
    pub fn params(&self, keyword: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, p)| p.as_str())
    }

    /// Every `(keyword, parameters)` pair, keywords in lower case, in the
    /// order advertised: smtplib's `esmtp_features`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, p)| (k.as_str(), p.as_str()))
    }

    /// PIPELINING (RFC 2920): commands may be sent in groups without
    /// waiting for each reply.
    pub fn pipelining(&self) -> bool {
        self.known(Known::Pipelining)
    }

    /// STARTTLS (RFC 3207): the session can be upgraded to TLS.
    pub fn starttls(&self) -> bool {
        self.known(Known::StartTls)
    }

    /// 8BITMIME (RFC 6152): `BODY=8BITMIME` may carry octets ≥ 0x80.
    pub fn eight_bit_mime(&self) -> bool {
        self.known(Known::EightBitMime)
    }

    /// SMTPUTF8 (RFC 6531): addresses and headers may be UTF-8.
    pub fn smtputf8(&self) -> bool {
        self.known(Known::SmtpUtf8)
    }

    /// CHUNKING (RFC 3030 §2): the body may be sent with BDAT.
    pub fn chunking(&self) -> bool {
        self.known(Known::Chunking)
    }

    /// BINARYMIME (RFC 3030 §3): `BODY=BINARYMIME` may carry any octets.
    ///
    /// True only when CHUNKING is advertised too, because a binary body can
    /// only be sent with BDAT (RFC 3030 §3); [`has`](Self::has) tells what
    /// was literally advertised.
    pub fn binary_mime(&self) -> bool {
        self.known(Known::BinaryMime) && self.chunking()
    }

    /// ENHANCEDSTATUSCODES (RFC 2034): replies start with an RFC 3463 code.
    pub fn enhanced_status_codes(&self) -> bool {
        self.known(Known::EnhancedStatusCodes)
    }

    /// DSN (RFC 3461): NOTIFY, ORCPT, RET and ENVID may be used.
    pub fn dsn(&self) -> bool {
        self.known(Known::Dsn)
    }

    /// REQUIRETLS (RFC 8689): the message may demand TLS on every hop.
    pub fn requiretls(&self) -> bool {
        self.known(Known::RequireTls)
    }

    /// The largest message the server accepts, in octets (RFC 1870 §4).
    ///
    /// `Some(n)` only for a positive decimal limit that fits in a `u64`.
    /// `SIZE` alone, `SIZE 0` (RFC 1870: no fixed limit) and anything that
    /// is not a number mean no declared limit, so `None`;
    /// `has("SIZE")` still tells whether the extension (and so the `SIZE=`
    /// MAIL parameter) was advertised.
    pub fn size(&self) -> Option<u64> {
        let first = self.params("SIZE")?.split_ascii_whitespace().next()?;
        if !first.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        first.parse::<u64>().ok().filter(|&n| n > 0)
    }

    /// The SASL mechanisms offered with AUTH (RFC 4954 §3), upper-case,
    /// without duplicates, in the order advertised; the old `AUTH=` lines
    /// are merged in. Names that are not valid RFC 4422 §3.1 mechanism names
    /// (1 to 20 of `A-Z 0-9 - _`) are left out.
    pub fn auth_mechanisms(&self) -> &[String] {
        &self.auth
    }

    /// Whether the SASL `mechanism` was offered, ignoring case.
    pub fn supports_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

/// SP and HTAB: what may pad a line or separate parameters in practice.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_end_blanks(mut s: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = s.split_last() {
        if !is_blank(last) {
            break;
        }
        s = rest;
    }
    s
}

fn trim_start_blanks(mut s: &[u8]) -> &[u8] {
    while let Some((&first, rest)) = s.split_first() {
        if !is_blank(first) {
            break;
        }
        s = rest;
    }
    s
}

/// Splits a line at its first SP into the keyword and the rest.
fn split_keyword(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b' ') {
        Some(at) => line.split_at_checked(at).unwrap_or((line, &[])),
        None => (line, &[]),
    }
}

/// The parameters of an old-style `AUTH=...` line (any case), which
/// predates RFC 4954 and is not a valid ehlo-keyword.
fn split_old_auth(line: &[u8]) -> Option<&[u8]> {
    let (head, params) = line.split_at_checked(5)?;
    head.eq_ignore_ascii_case(b"AUTH=")
        .then(|| trim_start_blanks(params))
}

/// `ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")` (RFC 5321 §4.1.1.1).
fn is_ehlo_keyword(word: &[u8]) -> bool {
    match word.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphanumeric()
                && rest.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        }
        None => false,
    }
}

/// `sasl-mech = 1*20mech-char`, `mech-char = UPPER-ALPHA / DIGIT / "-" / "_"`
/// (RFC 4422 §3.1); `name` is already upper-cased.
fn is_sasl_mech(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(lines: &[&str]) -> Extensions {
        Extensions::from_lines(lines.iter().map(|l| l.as_bytes()))
    }

    #[test]
    fn typical_reply() {
        let e = ext(&[
            "SIZE 35882577",
            "8BITMIME",
            "STARTTLS",
            "ENHANCEDSTATUSCODES",
            "PIPELINING",
            "CHUNKING",
            "SMTPUTF8",
        ]);
        assert!(e.pipelining() && e.starttls() && e.eight_bit_mime() && e.smtputf8());
        assert!(e.chunking() && e.enhanced_status_codes());
        assert!(!e.dsn() && !e.requiretls() && !e.binary_mime());
        assert_eq!(e.size(), Some(35_882_577));
        assert_eq!(e.params("8bitmime"), Some(""));
        assert_eq!(e.params("AUTH"), None);
        assert!(e.auth_mechanisms().is_empty());
        let order: Vec<&str> = e.iter().map(|(k, _)| k).collect();
        assert_eq!(
            order,
            [
                "size",
                "8bitmime",
                "starttls",
                "enhancedstatuscodes",
                "pipelining",
                "chunking",
                "smtputf8"
            ]
        );
    }

    type Accessor = fn(&Extensions) -> bool;

    #[test]
    fn each_accessor() {
        let table: &[(&str, Accessor)] = &[
            ("PIPELINING", Extensions::pipelining),
            ("STARTTLS", Extensions::starttls),
            ("8BITMIME", Extensions::eight_bit_mime),
            ("SMTPUTF8", Extensions::smtputf8),
            ("CHUNKING", Extensions::chunking),
            ("ENHANCEDSTATUSCODES", Extensions::enhanced_status_codes),
            ("DSN", Extensions::dsn),
            ("REQUIRETLS", Extensions::requiretls),
        ];
        for (keyword, accessor) in table {
            assert!(accessor(&ext(&[keyword])), "{keyword}");
            assert!(
                accessor(&ext(&[&keyword.to_ascii_lowercase()])),
                "{keyword}"
            );
            assert!(!accessor(&ext(&["X-OTHER"])), "{keyword}");
            assert!(ext(&[keyword]).has(keyword));
        }
        assert!(!ext(&["BINARYMIME"]).binary_mime());
        assert!(ext(&["BINARYMIME"]).has("binarymime"));
        assert!(ext(&["BINARYMIME", "CHUNKING"]).binary_mime());
    }

    #[test]
    fn from_reply_skips_the_greeting() {
        let reply = Reply::new(
            ReplyCode::OK,
            vec![
                b"mx.example.org greets you".to_vec(),
                b"PIPELINING".to_vec(),
                b"AUTH PLAIN".to_vec(),
            ],
        );
        let e = Extensions::from_reply(&reply);
        assert_eq!(e.iter().count(), 2);
        assert!(!e.has("mx.example.org"));
        assert!(e.pipelining());
        assert!(e.supports_auth("plain"));

        // A greeting that happens to look like a keyword is still skipped.
        let reply = Reply::new(ReplyCode::OK, vec![b"STARTTLS".to_vec()]);
        assert_eq!(Extensions::from_reply(&reply), Extensions::default());

        // Not a 250: nothing advertised.
        let code = ReplyCode::new(550).unwrap();
        let reply = Reply::new(code, vec![b"x".to_vec(), b"PIPELINING".to_vec()]);
        assert_eq!(Extensions::from_reply(&reply), Extensions::default());
    }

    #[test]
    fn params_and_whitespace() {
        let e = ext(&[
            "DSN ",
            "X-FOO  a  b ",
            "AUTH\tPLAIN",
            "X-BAR\t",
            "DELIVERBY 240",
        ]);
        assert_eq!(e.params("dsn"), Some(""));
        assert_eq!(e.params("x-foo"), Some("a  b"));
        assert_eq!(e.params("X-BAR"), Some(""));
        assert_eq!(e.params("deliverby"), Some("240"));
        // "AUTH\tPLAIN" is not keyword SP params: skipped.
        assert!(!e.has("auth"));
    }

    #[test]
    fn duplicates_keep_first_position_and_last_params() {
        let e = ext(&["SIZE 100", "PIPELINING", "size 200"]);
        let all: Vec<(&str, &str)> = e.iter().collect();
        assert_eq!(all, [("size", "200"), ("pipelining", "")]);
        assert_eq!(e.size(), Some(200));
    }

    #[test]
    fn hostile_lower_case_keywords() {
        let e = ext(&[
            "pipelining",
            "starttls",
            "size 1000",
            "auth plain login",
            "8bitmime",
        ]);
        assert!(e.pipelining() && e.starttls() && e.eight_bit_mime());
        assert_eq!(e.size(), Some(1000));
        assert_eq!(e.auth_mechanisms(), ["PLAIN", "LOGIN"]);
        assert!(e.has("PiPeLiNiNg"));
    }

    #[test]
    fn hostile_old_and_new_auth_merged() {
        let e = ext(&["AUTH=LOGIN", "AUTH PLAIN LOGIN", "auth=cram-md5 login"]);
        assert_eq!(e.auth_mechanisms(), ["LOGIN", "PLAIN", "CRAM-MD5"]);
        assert_eq!(e.params("auth"), Some("LOGIN PLAIN LOGIN cram-md5 login"));
        assert!(e.supports_auth("cram-md5"));
        assert!(e.supports_auth("Plain"));
        assert!(!e.supports_auth("XOAUTH2"));
        assert_eq!(e.iter().count(), 1);

        // Only the old form: AUTH is still advertised.
        let e = ext(&["AUTH=PLAIN"]);
        assert!(e.has("AUTH"));
        assert_eq!(e.auth_mechanisms(), ["PLAIN"]);

        // AUTH with no mechanism at all.
        let e = ext(&["AUTH", "AUTH="]);
        assert_eq!(e.params("auth"), Some(""));
        assert!(e.auth_mechanisms().is_empty());
    }

    #[test]
    fn hostile_invalid_mechanism_names_are_left_out() {
        let e =
            ext(&["AUTH PLAIN L*GIN A_B-1 ABCDEFGHIJKLMNOPQRSTU SCRAM-SHA-256-PLUS \u{e9}t\u{e9}"]);
        assert_eq!(
            e.auth_mechanisms(),
            ["PLAIN", "A_B-1", "SCRAM-SHA-256-PLUS"]
        );
    }

    #[test]
    fn hostile_size_values() {
        let table: &[(&str, Option<u64>)] = &[
            ("SIZE", None),
            ("SIZE ", None),
            ("SIZE 0", None),
            ("SIZE 00", None),
            ("SIZE abc", None),
            ("SIZE -5", None),
            ("SIZE +5", None),
            ("SIZE 1e6", None),
            ("SIZE 99999999999999999999999", None),
            ("SIZE 18446744073709551615", Some(u64::MAX)),
            ("SIZE 18446744073709551616", None),
            ("SIZE 10240000", Some(10_240_000)),
            ("SIZE 0010", Some(10)),
            ("SIZE 52428800 extra", Some(52_428_800)),
            ("size 1", Some(1)),
        ];
        for (line, want) in table {
            let e = ext(&[line]);
            assert_eq!(e.size(), *want, "{line:?}");
            assert!(e.has("SIZE"), "{line:?}");
        }
        assert_eq!(ext(&["PIPELINING"]).size(), None);
    }

    #[test]
    fn hostile_invalid_keywords_are_skipped() {
        let e = ext(&[
            "",
            " ",
            " PIPELINING",
            "-DSN",
            "X_FOO",
            "SIZE=100",
            "STARTTLS\u{e9}",
            "\u{e9}",
            "X-\u{0}",
            "8BITMIME",
            "X-OK",
        ]);
        let all: Vec<&str> = e.iter().map(|(k, _)| k).collect();
        assert_eq!(all, ["8bitmime", "x-ok"]);
        assert!(!e.pipelining() && !e.starttls() && !e.dsn());
    }

    #[test]
    fn hostile_non_utf8_parameters_are_kept_lossily() {
        let lines: [&[u8]; 3] = [b"X-NAME caf\xe9 ok", b"AUTH PLAIN \xff LOGIN", b"\xffBAD"];
        let e = Extensions::from_lines(lines);
        assert_eq!(e.params("x-name"), Some("caf\u{fffd} ok"));
        assert_eq!(e.auth_mechanisms(), ["PLAIN", "LOGIN"]);
        assert_eq!(e.iter().count(), 2);
    }

    #[test]
    fn hostile_hundreds_of_mechanisms_and_lines() {
        let mut lines = Vec::new();
        let mut many = String::from("AUTH");
        for i in 0..500 {
            many.push_str(&format!(" M{i} PLAIN"));
        }
        lines.push(many);
        for i in 0..500 {
            lines.push(format!("AUTH=M{i} LOGIN"));
            lines.push(format!("X-K{i} {i}"));
            lines.push("PIPELINING".to_owned());
        }
        let e = Extensions::from_lines(lines.iter().map(|l| l.as_bytes()));
        assert_eq!(e.auth_mechanisms().len(), 502);
        assert_eq!(e.auth_mechanisms()[0], "M0");
        assert_eq!(e.auth_mechanisms()[1], "PLAIN");
        assert_eq!(e.auth_mechanisms()[501], "LOGIN");
        assert!(e.supports_auth("m499"));
        // auth + 500 X-K + pipelining
        assert_eq!(e.iter().count(), 502);
        assert_eq!(e.params("x-k499"), Some("499"));
    }

    #[test]
    fn empty_input() {
        let e = Extensions::from_lines(std::iter::empty());
        assert_eq!(e, Extensions::default());
        assert!(!e.has(""));
        assert_eq!(e.params(""), None);
        assert_eq!(e.size(), None);
    }
}
