//! smtplib's `send_message` header rules, on raw RFC 5322 bytes, with
//! `mailparse` parsing each header field and its addresses:
//!
//! - exactly one `Resent-Date` selects the `Resent-` fields; more than one
//!   is an error (there is no telling which block is the newest);
//! - the sender is the first address of `Sender` when present, else of
//!   `From`;
//! - the recipients are the addresses of every `To`, `Cc` and `Bcc` field,
//!   in that order, groups expanded, duplicates dropped;
//! - `Bcc` and `Resent-Bcc` fields are never transmitted.
//!
//! Only the header block is examined; the body is passed on untouched.

use std::ops::Range;

use mailparse::{MailAddr, MailHeader, addrparse_header, parse_header};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::Error;

/// Largest header block `send_message_reader` holds in memory.
pub(crate) const MAX_HEADER_BLOCK: usize = 1024 * 1024;

/// What the header block says about the envelope, and which bytes of it to
/// leave out.
#[derive(Debug, Default)]
pub(crate) struct Headers {
    pub(crate) sender: Option<String>,
    pub(crate) recipients: Vec<String>,
    /// Byte ranges of the `Bcc`/`Resent-Bcc` fields, folded lines
    /// included, in order.
    pub(crate) drop: Vec<Range<usize>>,
}

/// Applies the rules to the header block at the start of `msg` (it ends at
/// the first empty line, or with `msg`).
pub(crate) fn analyze(msg: &[u8]) -> Result<Headers, Error> {
    let mut fields: Vec<(MailHeader<'_>, Range<usize>)> = Vec::new();
    let mut at = 0usize;
    while let Some(rest) = msg.get(at..) {
        if rest.is_empty() || rest.starts_with(b"\n") || rest.starts_with(b"\r\n") {
            break;
        }
        let (field, len) = parse_header(rest)
            .map_err(|e| Error::InvalidMessage(format!("unparsable header: {e}")))?;
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
        _ => {
            return Err(Error::InvalidMessage(
                "message has more than one 'Resent-' header block".to_owned(),
            ));
        }
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
fn addresses(field: &MailHeader<'_>) -> Result<Vec<String>, Error> {
    let list = addrparse_header(field).map_err(|e| {
        Error::InvalidMessage(format!(
            "unparsable addresses in {}: {e}",
            field.get_key_ref()
        ))
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

/// `msg` without the `drop` ranges, as slices in order.
pub(crate) fn kept<'a>(msg: &'a [u8], drop: &[Range<usize>]) -> Vec<&'a [u8]> {
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

/// Reads from `reader` through the empty line that ends the header block,
/// at most [`MAX_HEADER_BLOCK`] bytes. The bytes read may run past the
/// block into the body; the caller sends them first.
pub(crate) async fn read_header_block<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 8 * 1024];
    loop {
        if header_end(&buf).is_some() {
            return Ok(buf);
        }
        if buf.len() > MAX_HEADER_BLOCK {
            return Err(Error::InvalidMessage(format!(
                "header block longer than {MAX_HEADER_BLOCK} bytes"
            )));
        }
        let n = match reader.read(&mut chunk).await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Io(e)),
        };
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// Where the header block ends (just after its empty line), if it does.
pub(crate) fn header_end(buf: &[u8]) -> Option<usize> {
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
        assert!(matches!(analyze(two), Err(Error::InvalidMessage(_))));
    }

    #[test]
    fn header_end_finds_the_empty_line() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody"), Some(6));
        assert_eq!(header_end(b"A: b\n"), None);
        assert_eq!(header_end(b"\r\nbody"), Some(2));
        assert_eq!(header_end(b"A: b\r\nC: d\r\n\r\n"), Some(14));
    }
}
