//! smtplib's `send_message` rules for a raw RFC 5322 message, and the
//! building of an [`Envelope`] from smtplib-style strings.
//!
//! The adapters' `send_message` takes the envelope from the headers when
//! the caller does not give it, as Python's `smtplib.send_message` does.
//! These rules are protocol logic, not IO, so they live here once and both
//! adapters apply them the same way (only reading the header block from a
//! stream stays in each adapter):
//!
//! - exactly one `Resent-Date` selects the `Resent-` fields; more than one
//!   is an error ([`MessageError::MultipleResentBlocks`]: there is no
//!   telling which block is the newest);
//! - the sender is the first address of `Sender` when present, else of
//!   `From`;
//! - the recipients are the addresses of every `To`, `Cc` and `Bcc` field,
//!   in that order, groups expanded, duplicates dropped;
//! - `Bcc` and `Resent-Bcc` fields are never transmitted, whatever the
//!   envelope (a blind copy must not show its recipients to the others).
//!
//! Only the header block is examined, with `mailparse` parsing each field
//! and its addresses; the body is passed on untouched. A streamed message
//! has its header block held in memory, so it is capped at
//! [`MAX_HEADER_BLOCK`] bytes.

use std::ops::Range;

use mailparse::{MailAddr, MailHeader, addrparse_header, parse_header};

use crate::address::{AddressError, ForwardPath, ReversePath};
use crate::command::{BodyType, CommandError, MailParams, RcptParams};
use crate::txn::{BodyContent, BodyOptions, Envelope, Recipient};

/// Largest header block a streamed `send_message` holds in memory before
/// the body: beyond it the message is refused rather than buffered without
/// bound.
pub const MAX_HEADER_BLOCK: usize = 1024 * 1024;

/// The header block of a streamed message, gathered read by read: the
/// driver asks for [`space`](Self::space), reads into it, reports how much
/// with [`filled`](Self::filled), until `space` says the block is complete
/// (or the source ended). Then [`into_bytes`](Self::into_bytes) holds the
/// block and whatever of the body came with it.
#[derive(Debug, Default)]
pub struct HeaderReader {
    buf: Vec<u8>,
    /// Bytes of `buf` that hold data (the rest is room for the next read).
    len: usize,
    ended: bool,
}

/// Bytes asked for per read.
const HEADER_READ: usize = 8 * 1024;

impl HeaderReader {
    /// Room for the next read, or `None` when the block is complete or the
    /// source ended.
    ///
    /// # Errors
    /// [`MessageError::HeaderBlockTooLong`] past [`MAX_HEADER_BLOCK`].
    pub fn space(&mut self) -> Result<Option<&mut [u8]>, MessageError> {
        let data = self.buf.get(..self.len).unwrap_or_default();
        if self.ended || header_block_complete(data)? {
            return Ok(None);
        }
        self.buf.resize(self.len.saturating_add(HEADER_READ), 0);
        Ok(self.buf.get_mut(self.len..))
    }

    /// The last read gave `n` bytes (0: the source ended).
    pub fn filled(&mut self, n: usize) {
        self.ended = n == 0;
        self.len = self.len.saturating_add(n).min(self.buf.len());
    }

    /// The bytes read: the header block and possibly the start of the
    /// body.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.buf.truncate(self.len);
        self.buf
    }
}

/// Why the header block cannot give an envelope. The adapters report it as
/// their `Error::InvalidMessage` (smtplib raises `ValueError`).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A header field could not be parsed.
    #[error("unparsable header: {reason}")]
    UnparsableHeader {
        /// `mailparse`'s explanation.
        reason: String,
    },
    /// An address field (`From`, `To`, …) could not be parsed.
    #[error("unparsable addresses in {field}: {reason}")]
    UnparsableAddresses {
        /// The field name, as spelled in the message.
        field: String,
        /// `mailparse`'s explanation.
        reason: String,
    },
    /// More than one `Resent-Date`: smtplib cannot tell which `Resent-`
    /// block is the newest, and neither can we.
    #[error("message has more than one 'Resent-' header block")]
    MultipleResentBlocks,
    /// The header block does not end within [`MAX_HEADER_BLOCK`] bytes.
    #[error("header block longer than {max} bytes")]
    HeaderBlockTooLong {
        /// The limit, [`MAX_HEADER_BLOCK`].
        max: usize,
    },
    /// No sender was given and no `Sender` or `From` field gives one.
    #[error("no Sender or From header to take the sender from")]
    NoSender,
    /// No recipients were given and the headers name none.
    #[error("no recipients")]
    NoRecipients,
    /// A composed message has a header field name that is empty or not
    /// printable ASCII without `:` (feature `builder`).
    #[error("invalid header field name {name:?}")]
    InvalidHeaderName {
        /// The name, as given.
        name: String,
    },
    /// A Message-ID was asked for without a domain, and the message names
    /// no sender with a valid domain to take it from (feature `builder`).
    #[error("no domain for the Message-ID: no Sender or From address with a valid domain")]
    NoMessageIdDomain,
}

/// What the header block says about the envelope, and which bytes of the
/// message to leave out; see [`analyze`].
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    /// The sender the headers name (`Sender`, else `From`; `Resent-` ones
    /// when the message was resent).
    pub sender: Option<String>,
    /// The recipients the headers name (`To`, `Cc`, `Bcc`), without
    /// duplicates.
    pub recipients: Vec<String>,
    /// Byte ranges of the `Bcc`/`Resent-Bcc` fields, folded lines
    /// included, in order: never transmitted (see [`kept`]).
    pub drop: Vec<Range<usize>>,
}

/// Applies smtplib's `send_message` rules (see the module docs) to the
/// header block at the start of `msg`; the block ends at the first empty
/// line, or with `msg`.
///
/// # Errors
///
/// [`MessageError::UnparsableHeader`], [`MessageError::UnparsableAddresses`]
/// and [`MessageError::MultipleResentBlocks`].
pub fn analyze(msg: &[u8]) -> Result<Headers, MessageError> {
    let mut fields: Vec<(MailHeader<'_>, Range<usize>)> = Vec::new();
    let mut at = 0usize;
    while let Some(rest) = msg.get(at..) {
        if rest.is_empty() || rest.starts_with(b"\n") || rest.starts_with(b"\r\n") {
            break;
        }
        let (field, len) = parse_header(rest).map_err(|e| MessageError::UnparsableHeader {
            reason: e.to_string(),
        })?;
        if len == 0 {
            break;
        }
        let end = at.saturating_add(len);
        fields.push((field, at..end));
        at = end;
    }
    let named = |name: &str| -> Vec<&MailHeader<'_>> {
        fields
            .iter()
            .filter(|(f, _)| f.get_key_ref().trim().eq_ignore_ascii_case(name))
            .map(|(f, _)| f)
            .collect()
    };
    let prefix = match named("Resent-Date").len() {
        0 => "",
        1 => "Resent-",
        _ => return Err(MessageError::MultipleResentBlocks),
    };
    let sender_field = named(&format!("{prefix}Sender"))
        .into_iter()
        .next()
        .or_else(|| named(&format!("{prefix}From")).into_iter().next());
    let sender = match sender_field {
        Some(f) => addresses(f)?.into_iter().next(),
        None => None,
    };
    let mut recipients: Vec<String> = Vec::new();
    for name in ["To", "Cc", "Bcc"] {
        for f in named(&format!("{prefix}{name}")) {
            for a in addresses(f)? {
                if !recipients.contains(&a) {
                    recipients.push(a);
                }
            }
        }
    }
    let drop = fields
        .iter()
        .filter(|(f, _)| {
            let key = f.get_key_ref();
            let key = key.trim();
            key.eq_ignore_ascii_case("Bcc") || key.eq_ignore_ascii_case("Resent-Bcc")
        })
        .map(|(_, r)| r.clone())
        .collect();
    Ok(Headers {
        sender,
        recipients,
        drop,
    })
}

/// The mailbox addresses of one address field.
fn addresses(field: &MailHeader<'_>) -> Result<Vec<String>, MessageError> {
    let list = addrparse_header(field).map_err(|e| MessageError::UnparsableAddresses {
        field: field.get_key_ref().into_owned(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for a in list.iter() {
        match a {
            MailAddr::Single(s) => out.push(s.addr.clone()),
            MailAddr::Group(g) => out.extend(g.addrs.iter().map(|s| s.addr.clone())),
        }
    }
    Ok(out)
}

/// `msg` without the `drop` ranges (from [`Headers::drop`]), as slices in
/// order: what is transmitted.
pub fn kept<'a>(msg: &'a [u8], drop: &[Range<usize>]) -> Vec<&'a [u8]> {
    let mut parts = Vec::with_capacity(drop.len().saturating_add(1));
    let mut at = 0;
    for r in drop {
        if let Some(part) = msg.get(at..r.start) {
            parts.push(part);
        }
        at = r.end;
    }
    if let Some(part) = msg.get(at..) {
        parts.push(part);
    }
    parts
}

/// The body options of an in-memory message sent as `parts` (from
/// [`kept`]): its exact size, and `BODY=8BITMIME` when a part has an 8-bit
/// byte.
pub fn body_options(parts: &[&[u8]]) -> BodyOptions {
    let size: u64 = parts.iter().map(|p| crate::body::message_len(p)).sum();
    let content = if parts.iter().all(|p| p.is_ascii()) {
        BodyContent::SevenBit
    } else {
        BodyContent::EightBit
    };
    BodyOptions::default()
        .with_size(Some(size))
        .with_content(content)
}

/// Where the header block ends (just after its empty line), if it does.
/// Lines may end with LF or CRLF.
pub fn header_end(buf: &[u8]) -> Option<usize> {
    if buf.starts_with(b"\n") {
        return Some(1);
    }
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    // The first LF followed by an empty line (LF or CRLF).
    let mut from = 0usize;
    while let Some(rest) = buf.get(from..) {
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let after = from.saturating_add(nl).saturating_add(1);
        let next = buf.get(after..).unwrap_or_default();
        if next.starts_with(b"\n") {
            return Some(after.saturating_add(1));
        }
        if next.starts_with(b"\r\n") {
            return Some(after.saturating_add(2));
        }
        from = after;
    }
    None
}

/// For an adapter reading a header block from a stream: `Ok(true)` once
/// `buf` holds the whole block (see [`header_end`]), `Ok(false)` while more
/// must be read.
///
/// # Errors
///
/// [`MessageError::HeaderBlockTooLong`] when `buf` has grown past
/// [`MAX_HEADER_BLOCK`] without the block ending.
pub fn header_block_complete(buf: &[u8]) -> Result<bool, MessageError> {
    if header_end(buf).is_some() {
        return Ok(true);
    }
    if buf.len() > MAX_HEADER_BLOCK {
        return Err(MessageError::HeaderBlockTooLong {
            max: MAX_HEADER_BLOCK,
        });
    }
    Ok(false)
}

/// The caller's envelope for `send_message`, completed from the headers:
/// `from_addr` when given, else [`Headers::sender`]; `to_addrs` when
/// given, else [`Headers::recipients`].
///
/// # Errors
///
/// [`MessageError::NoSender`] and [`MessageError::NoRecipients`] (an
/// explicit empty list included).
pub fn pick_envelope(
    headers: &Headers,
    from_addr: Option<&str>,
    to_addrs: Option<&[&str]>,
) -> Result<(String, Vec<String>), MessageError> {
    let from = match from_addr {
        Some(f) => f.to_owned(),
        None => headers.sender.clone().ok_or(MessageError::NoSender)?,
    };
    let to: Vec<String> = match to_addrs {
        Some(t) => t.iter().map(|s| (*s).to_owned()).collect(),
        None => headers.recipients.clone(),
    };
    if to.is_empty() {
        return Err(MessageError::NoRecipients);
    }
    Ok((from, to))
}

/// Why smtplib-style strings do not make an envelope. The adapters report
/// it as their `Error::InvalidArgument` (smtplib lets the server refuse;
/// we refuse before sending).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The sender is not a valid reverse path.
    #[error("sender {address:?}: {source}")]
    Sender {
        /// The sender, as given.
        address: String,
        /// What is wrong with it.
        source: AddressError,
    },
    /// A recipient is not a valid forward path.
    #[error("recipient {address:?}: {source}")]
    Recipient {
        /// The recipient, as given.
        address: String,
        /// What is wrong with it.
        source: AddressError,
    },
    /// A MAIL or RCPT option is invalid.
    #[error(transparent)]
    Option(#[from] CommandError),
}

/// Builds the envelope of smtplib's `sendmail(from_addr, to_addrs, msg,
/// mail_options, rcpt_options)`: the MAIL options are parsed with
/// [`MailParams::from_options_ignoring_size`] (the engine declares the
/// real size), the RCPT options with [`RcptParams::from_options`] and
/// given to every recipient. A `BODY=` option is taken out of the MAIL
/// parameters and returned as the [`BodyContent`] it asks for, so that the
/// engine checks the body against it and declares it.
///
/// # Errors
///
/// [`EnvelopeError`] for an invalid address or option.
pub fn build_envelope(
    from: &str,
    to: &[&str],
    mail_options: &[&str],
    rcpt_options: &[&str],
) -> Result<(Envelope, Option<BodyContent>), EnvelopeError> {
    let from_path = ReversePath::parse_name_addr(from).map_err(|source| EnvelopeError::Sender {
        address: from.to_owned(),
        source,
    })?;
    let mut params = MailParams::from_options_ignoring_size(mail_options)?;
    let content = params.body.take().map(|body| match body {
        BodyType::EightBitMime => BodyContent::EightBit,
        BodyType::BinaryMime => BodyContent::Binary,
        BodyType::SevenBit => BodyContent::SevenBit,
    });
    let rcpt_params = RcptParams::from_options(rcpt_options)?;
    let mut recipients = Vec::with_capacity(to.len());
    for addr in to {
        let path =
            ForwardPath::parse_name_addr(addr).map_err(|source| EnvelopeError::Recipient {
                address: (*addr).to_owned(),
                source,
            })?;
        recipients.push(Recipient {
            to: path,
            params: rcpt_params.clone(),
        });
    }
    let mut envelope = Envelope::new(from_path, std::iter::empty());
    envelope.params = params;
    envelope.recipients = recipients;
    Ok((envelope, content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_and_recipients_from_plain_headers() {
        let msg = b"From: A <a@x.org>\r\nTo: b@x.org, C <c@x.org>\r\nCc: g: d@x.org;\r\nBcc: e@x.org\r\n\r\nbody\r\n";
        let h = analyze(msg).unwrap();
        assert_eq!(h.sender.as_deref(), Some("a@x.org"));
        assert_eq!(h.recipients, ["b@x.org", "c@x.org", "d@x.org", "e@x.org"]);
        assert_eq!(
            kept(msg, &h.drop).concat(),
            b"From: A <a@x.org>\r\nTo: b@x.org, C <c@x.org>\r\nCc: g: d@x.org;\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn sender_beats_from_and_folded_bcc_goes() {
        let msg = b"From: a@x.org\nSender: s@x.org\nBcc: e@x.org,\n f@x.org\nTo: b@x.org\nTo: b@x.org\n\n";
        let h = analyze(msg).unwrap();
        assert_eq!(h.sender.as_deref(), Some("s@x.org"));
        assert_eq!(h.recipients, ["b@x.org", "e@x.org", "f@x.org"]);
        assert_eq!(
            kept(msg, &h.drop).concat(),
            b"From: a@x.org\nSender: s@x.org\nTo: b@x.org\nTo: b@x.org\n\n"
        );
    }

    #[test]
    fn one_resent_block_is_used_two_are_an_error() {
        let msg = b"From: a@x.org\nTo: b@x.org\nResent-Date: today\nResent-From: r@x.org\nResent-To: t@x.org\nResent-Bcc: u@x.org\n\nbody";
        let h = analyze(msg).unwrap();
        assert_eq!(h.sender.as_deref(), Some("r@x.org"));
        assert_eq!(h.recipients, ["t@x.org", "u@x.org"]);
        let sent = kept(msg, &h.drop).concat();
        assert!(!sent.windows(10).any(|w| w == b"Resent-Bcc"));
        let two = b"Resent-Date: a\nResent-Date: b\nTo: x@y.org\n\n";
        assert_eq!(analyze(two), Err(MessageError::MultipleResentBlocks));
    }

    #[test]
    fn header_end_finds_the_empty_line() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody"), Some(6));
        assert_eq!(header_end(b"A: b\n"), None);
        assert_eq!(header_end(b"\r\nbody"), Some(2));
        assert_eq!(header_end(b"A: b\r\nC: d\r\n\r\n"), Some(14));
    }

    #[test]
    fn header_block_is_capped() {
        assert_eq!(header_block_complete(b"A: b\n\n"), Ok(true));
        assert_eq!(header_block_complete(b"A: b\n"), Ok(false));
        let long = vec![b'a'; MAX_HEADER_BLOCK];
        assert_eq!(header_block_complete(&long), Ok(false));
        let longer = vec![b'a'; MAX_HEADER_BLOCK + 1];
        let err = header_block_complete(&longer).unwrap_err();
        assert_eq!(err.to_string(), "header block longer than 1048576 bytes");
    }

    #[test]
    fn explicit_envelope_wins_over_headers() {
        let h = analyze(b"From: a@x.org\nTo: b@x.org\n\n").unwrap();
        assert_eq!(
            pick_envelope(&h, None, None).unwrap(),
            ("a@x.org".to_owned(), vec!["b@x.org".to_owned()])
        );
        assert_eq!(
            pick_envelope(&h, Some("s@y.org"), Some(&["t@y.org"])).unwrap(),
            ("s@y.org".to_owned(), vec!["t@y.org".to_owned()])
        );
        assert_eq!(
            pick_envelope(&h, None, Some(&[])),
            Err(MessageError::NoRecipients)
        );
        let bare = Headers::default();
        assert_eq!(
            pick_envelope(&bare, None, None),
            Err(MessageError::NoSender)
        );
        assert_eq!(
            pick_envelope(&bare, Some("a@x.org"), None),
            Err(MessageError::NoRecipients)
        );
    }

    #[test]
    fn body_options_give_size_and_content() {
        let parts: [&[u8]; 2] = [b"A: b\n", b"\nbody\n"];
        let options = body_options(&parts);
        assert_eq!(
            options,
            BodyOptions::default()
                .with_size(Some(crate::body::message_len(b"A: b\n\nbody\n")))
                .with_content(BodyContent::SevenBit)
        );
        let eight: [&[u8]; 1] = [b"\xc3\xa9\n"];
        assert_eq!(
            body_options(&eight),
            BodyOptions::default()
                .with_size(Some(crate::body::message_len(b"\xc3\xa9\n")))
                .with_content(BodyContent::EightBit)
        );
    }

    #[test]
    fn build_envelope_from_smtplib_strings() {
        let (env, content) = build_envelope(
            "a@x.org",
            &["b@x.org", "c@x.org"],
            &["SIZE=bad", "BODY=8BITMIME", "SMTPUTF8"],
            &["NOTIFY=SUCCESS"],
        )
        .unwrap();
        assert_eq!(content, Some(BodyContent::EightBit));
        assert_eq!(env.params.body, None);
        assert_eq!(env.params.size, None);
        assert!(env.params.smtputf8);
        assert_eq!(env.recipients.len(), 2);
        assert!(env.recipients.iter().all(|r| r.params.extra.len() == 1));
        let (_, content) = build_envelope("", &["b@x.org"], &[], &[]).unwrap();
        assert_eq!(content, None);
        let e = build_envelope("a b", &["b@x.org"], &[], &[]).unwrap_err();
        assert!(e.to_string().starts_with("sender \"a b\": "), "{e}");
        let e = build_envelope("a@x.org", &["nope"], &[], &[]).unwrap_err();
        assert!(e.to_string().starts_with("recipient \"nope\": "), "{e}");
        let e = build_envelope("a@x.org", &["b@x.org"], &["BODY=x"], &[]).unwrap_err();
        assert_eq!(e.to_string(), "mail option \"BODY=x\"");
    }
}
