//! Composing a message with [`mail_builder`] (feature `builder`), for the
//! adapters' `send_built` or for any raw-bytes call.
//!
//! ```
//! use std::time::SystemTime;
//! use smtp_proto::compose::{MessageBuilder, Stamp, to_bytes};
//!
//! let message = MessageBuilder::new()
//!     .from(("Ann", "ann@example.org"))
//!     .to("bob@example.org")
//!     .bcc("audit@example.org")
//!     .subject("Grüße")
//!     .text_body("Hello Bob")
//!     .html_body("<p>Hello Bob</p>");
//! let bytes = to_bytes(message, &Stamp::new().date().message_id(), SystemTime::now())?;
//! assert!(bytes.starts_with(b"From: \"Ann\" <ann@example.org>\r\n"));
//! # Ok::<(), smtp_proto::message::MessageError>(())
//! ```
//!
//! [`to_bytes`] writes what `MessageBuilder` builds, with one difference:
//! `Date` and `Message-ID` are added only when the [`Stamp`] asks for them
//! (and the message has none), never behind the caller's back. The
//! `send_message` rules of [`message`](crate::message) then apply to these
//! bytes as to any other message: the envelope comes from `Sender`/`From`
//! and `To`/`Cc`/`Bcc`, and `Bcc` is not transmitted. mail-builder folds
//! long fields and encodes non-ASCII text as RFC 2047 encoded-words and
//! non-ASCII bodies as quoted-printable or base64, so what it produces is
//! 7-bit and needs no `8BITMIME`, unless an address itself is
//! internationalized (kept in UTF-8 as RFC 6532 allows; the envelope then
//! asks for `SMTPUTF8` anyway).
//!
//! The wall-clock time of `Date` is a parameter: the engine reads no clock
//! (the adapters pass `SystemTime::now()`). The unique part of a
//! Message-ID is mail-builder's generator (the time in nanoseconds, a
//! per-thread counter and a per-process seed); its domain is the sender's
//! unless the stamp names one.
//!
//! `mail_builder` is re-exported, so its version always matches this
//! crate's; `MessageBuilder` is a public dependency of the feature.

use std::time::{SystemTime, UNIX_EPOCH};

pub use mail_builder;
pub use mail_builder::MessageBuilder;
use mail_builder::headers::Header;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::generate_message_id_header;

use crate::address::Domain;
use crate::message::{MessageError, analyze};

/// Which generated fields [`to_bytes`] adds: none by default. A field the
/// message already has is kept and never added twice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Stamp {
    date: bool,
    message_id: bool,
    domain: Option<Domain>,
}

impl Stamp {
    /// Adds nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `Date` (RFC 5322 §3.6.1), the time given to [`to_bytes`], in
    /// UTC.
    pub fn date(mut self) -> Self {
        self.date = true;
        self
    }

    /// Adds a unique `Message-ID` (RFC 5322 §3.6.4) whose domain is that of
    /// the sender (`Sender`, else `From`), as an A-label when it is
    /// internationalized.
    pub fn message_id(mut self) -> Self {
        self.message_id = true;
        self
    }

    /// Adds a unique `Message-ID` in `domain` (as an A-label when it is
    /// internationalized).
    pub fn message_id_in(mut self, domain: Domain) -> Self {
        self.message_id = true;
        self.domain = Some(domain);
        self
    }

    /// Whether `Date` is asked for.
    #[must_use]
    pub fn adds_date(&self) -> bool {
        self.date
    }

    /// Whether `Message-ID` is asked for.
    #[must_use]
    pub fn adds_message_id(&self) -> bool {
        self.message_id
    }
}

/// The bytes of `message`, with `Date` (at `wall`) and `Message-ID` when
/// `stamp` asks for them and the message has none, and `MIME-Version:
/// 1.0` unless set; lines end in CRLF.
///
/// # Errors
///
/// [`MessageError::InvalidHeaderName`] for a field name that is empty or
/// not printable ASCII without `:` (it would end the header block or
/// smuggle another field); [`MessageError::NoMessageIdDomain`] when a
/// Message-ID is asked for without a domain and the message has no sender
/// with a valid domain; [`MessageError::UnparsableAddresses`] when the
/// sender's field cannot be read for it.
pub fn to_bytes(
    message: MessageBuilder<'_>,
    stamp: &Stamp,
    wall: SystemTime,
) -> Result<Vec<u8>, MessageError> {
    let mut message = message;
    let headers = std::mem::take(&mut message.headers);
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let (has_date, has_id, has_mime) = (has("Date"), has("Message-ID"), has("MIME-Version"));
    let mut out: Vec<u8> = Vec::new();
    for (name, value) in &headers {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(MessageError::InvalidHeaderName {
                name: name.to_string(),
            });
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        value.write_header(&mut out, name.len().saturating_add(2));
    }
    if stamp.date && !has_date {
        out.extend_from_slice(b"Date: ");
        Date::new(unix_seconds(wall)).write_rfc822(&mut out);
        out.extend_from_slice(b"\r\n");
    }
    if stamp.message_id && !has_id {
        let domain = match &stamp.domain {
            Some(d) => d.clone(),
            None => sender_domain(&out)?,
        };
        let domain = domain
            .to_ascii()
            .map_err(|_| MessageError::NoMessageIdDomain)?;
        out.extend_from_slice(b"Message-ID: ");
        generate_message_id_header(&mut out, domain.as_str());
        out.extend_from_slice(b"\r\n");
    }
    if !has_mime {
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    }
    message.serialize_body(&mut out);
    Ok(out)
}

/// Seconds since the Unix epoch, negative before it.
fn unix_seconds(wall: SystemTime) -> i64 {
    match wall.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The domain of the sender the header block `head` names.
fn sender_domain(head: &[u8]) -> Result<Domain, MessageError> {
    let sender = analyze(head)?
        .sender
        .ok_or(MessageError::NoMessageIdDomain)?;
    let (_, domain) = sender
        .rsplit_once('@')
        .ok_or(MessageError::NoMessageIdDomain)?;
    Domain::parse(domain).map_err(|_| MessageError::NoMessageIdDomain)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::time::Duration;

    use super::*;
    use crate::message::{Headers, header_end, kept};

    /// 2024-02-29 12:34:56 UTC.
    fn wall() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_709_210_096)
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The header block of `msg`, unfolded, one field per line.
    fn fields(msg: &[u8]) -> Vec<String> {
        let end = header_end(msg).unwrap();
        text(&msg[..end])
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ")
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn named<'a>(fields: &'a [String], name: &str) -> Vec<&'a str> {
        let prefix = format!("{name}: ");
        fields
            .iter()
            .filter_map(|f| f.strip_prefix(&prefix))
            .collect()
    }

    fn built() -> MessageBuilder<'static> {
        MessageBuilder::new()
            .from(("Ann Example", "ann@example.org"))
            .to(vec![("Bob", "bob@example.org"), ("", "carol@example.org")])
            .cc("dave@example.net")
            .bcc(vec!["erin@example.com", "frank@example.com"])
            .subject("Quarterly report")
            .text_body("Hello\r\n.leading dot\r\n")
            .html_body("<p>Hello</p>")
            .attachment("text/csv", "q1.csv", &b"a,b\r\n1,2\r\n"[..])
    }

    #[test]
    fn envelope_from_to_cc_bcc_and_bcc_is_not_transmitted() {
        let msg = to_bytes(built(), &Stamp::new(), wall()).unwrap();
        let Headers {
            sender,
            recipients,
            drop,
            ..
        } = analyze(&msg).unwrap();
        assert_eq!(sender.as_deref(), Some("ann@example.org"));
        assert_eq!(
            recipients,
            [
                "bob@example.org",
                "carol@example.org",
                "dave@example.net",
                "erin@example.com",
                "frank@example.com"
            ]
        );
        let sent = kept(&msg, &drop).concat();
        let f = fields(&sent);
        assert!(named(&f, "Bcc").is_empty(), "{f:?}");
        assert!(!text(&sent).contains("erin@"), "{}", text(&sent));
        assert_eq!(named(&f, "Cc"), ["<dave@example.net>"]);
        assert_eq!(named(&f, "Subject"), ["Quarterly report"]);
        assert_eq!(named(&f, "MIME-Version"), ["1.0"]);
        // Only the Bcc field was left out; the body is untouched.
        assert_eq!(
            sent.len() + drop.iter().map(|r| r.len()).sum::<usize>(),
            msg.len()
        );
        assert!(text(&sent).contains("multipart/alternative"));
        assert!(text(&sent).contains("filename=\"q1.csv\""));
    }

    #[test]
    fn date_and_message_id_only_when_asked() {
        let plain = to_bytes(built(), &Stamp::new(), wall()).unwrap();
        let f = fields(&plain);
        assert!(named(&f, "Date").is_empty(), "{f:?}");
        assert!(named(&f, "Message-ID").is_empty(), "{f:?}");

        let dated = to_bytes(built(), &Stamp::new().date(), wall()).unwrap();
        let f = fields(&dated);
        assert_eq!(named(&f, "Date"), ["Thu, 29 Feb 2024 12:34:56 +0000"]);
        assert!(named(&f, "Message-ID").is_empty(), "{f:?}");

        let stamp = Stamp::new().date().message_id();
        let (a, b) = (
            to_bytes(built(), &stamp, wall()).unwrap(),
            to_bytes(built(), &stamp, wall()).unwrap(),
        );
        let (fa, fb) = (fields(&a), fields(&b));
        let (ida, idb) = (named(&fa, "Message-ID"), named(&fb, "Message-ID"));
        assert_eq!(ida.len(), 1);
        assert!(
            ida[0].starts_with('<') && ida[0].ends_with("@example.org>"),
            "{ida:?}"
        );
        assert_ne!(ida, idb, "two messages, two ids");
        assert_eq!(named(&fa, "Date").len(), 1);

        let mine = Domain::parse("mail.example.net").unwrap();
        let at = to_bytes(built(), &Stamp::new().message_id_in(mine), wall()).unwrap();
        let f = fields(&at);
        assert!(
            named(&f, "Message-ID")[0].ends_with("@mail.example.net>"),
            "{f:?}"
        );
        assert!(named(&f, "Date").is_empty());
    }

    #[test]
    fn the_callers_own_fields_are_kept_not_doubled() {
        let message = built()
            .date(0_i64)
            .message_id("given@example.org")
            .header("MIME-Version", mail_builder::headers::raw::Raw::new("1.0"));
        let stamp = Stamp::new().date().message_id();
        let msg = to_bytes(message, &stamp, wall()).unwrap();
        let f = fields(&msg);
        assert_eq!(named(&f, "Date"), ["Thu, 1 Jan 1970 00:00:00 +0000"]);
        assert_eq!(named(&f, "Message-ID"), ["<given@example.org>"]);
        assert_eq!(named(&f, "MIME-Version"), ["1.0"]);
    }

    #[test]
    fn non_ascii_is_encoded_and_parses_back() {
        let message = MessageBuilder::new()
            .from(("Jürgen Müller", "jm@bücher.example"))
            .to(("Zoë", "zoe@example.org"))
            .subject("Grüße aus Köln — ein sehr langer Betreff, der gefaltet werden muss, weil er lang ist")
            .text_body("Schöne Grüße\n");
        let msg = to_bytes(message, &Stamp::new().message_id(), wall()).unwrap();
        // Only the internationalized address stays UTF-8 (RFC 6532; the
        // envelope then asks for SMTPUTF8): names, subject and body are
        // encoded.
        let f = fields(&msg);
        assert_eq!(
            named(&f, "From"),
            ["=?utf-8?B?SsO8cmdlbiBNw7xsbGVy?= <jm@bücher.example>"]
        );
        let rest = text(&msg).replace("jm@bücher.example", "");
        assert!(rest.is_ascii(), "{rest}");
        let subject = named(&f, "Subject");
        assert_eq!(subject.len(), 1);
        assert!(subject[0].starts_with("=?utf-8?"), "{subject:?}");
        let parsed = mailparse::parse_mail(&msg).unwrap();
        let decoded = parsed
            .headers
            .iter()
            .find(|h| h.get_key_ref() == "Subject")
            .unwrap()
            .get_value();
        assert_eq!(
            decoded,
            "Grüße aus Köln — ein sehr langer Betreff, der gefaltet werden muss, weil er lang ist"
        );
        assert_eq!(parsed.get_body().unwrap(), "Schöne Grüße\n");
        // The Message-ID's domain is the sender's, as an A-label.
        assert!(
            named(&f, "Message-ID")[0].ends_with("@xn--bcher-kva.example>"),
            "{f:?}"
        );
        let h = analyze(&msg).unwrap();
        assert_eq!(h.recipients, ["zoe@example.org"]);
    }

    #[test]
    fn a_bad_field_name_or_no_id_domain_is_an_error() {
        let smuggled = MessageBuilder::new()
            .to("a@example.org")
            .header("X-A: b\r\nBcc", mail_builder::headers::text::Text::new("x"));
        assert_eq!(
            to_bytes(smuggled, &Stamp::new(), wall()),
            Err(MessageError::InvalidHeaderName {
                name: "X-A: b\r\nBcc".to_owned()
            })
        );
        let empty = MessageBuilder::new().header("", mail_builder::headers::text::Text::new("x"));
        assert!(to_bytes(empty, &Stamp::new(), wall()).is_err());
        let anonymous = MessageBuilder::new().to("a@example.org").text_body("x");
        assert_eq!(
            to_bytes(anonymous, &Stamp::new().message_id(), wall()),
            Err(MessageError::NoMessageIdDomain)
        );
        let ok = MessageBuilder::new().to("a@example.org").text_body("x");
        let at = Domain::parse("example.org").unwrap();
        assert!(to_bytes(ok, &Stamp::new().message_id_in(at), wall()).is_ok());
    }

    #[test]
    fn a_date_before_the_epoch_is_written() {
        assert_eq!(
            unix_seconds(UNIX_EPOCH - Duration::from_secs(86_400)),
            -86_400
        );
        assert_eq!(unix_seconds(wall()), 1_709_210_096);
        let early = UNIX_EPOCH - Duration::from_secs(86_400);
        let msg = to_bytes(built(), &Stamp::new().date(), early).unwrap();
        assert_eq!(
            named(&fields(&msg), "Date"),
            ["Wed, 31 Dec 1969 00:00:00 +0000"]
        );
    }
}
