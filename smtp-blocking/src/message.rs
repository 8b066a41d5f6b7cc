//! smtplib's `send_message` header rules, applied to raw RFC 5322 bytes
//! with `mailparse` doing the header and address parsing:
//!
//! - exactly one `Resent-Date` selects the `Resent-` headers; more than one
//!   is an error (no way to tell which block is the newest);
//! - the sender is the first address of `Sender` if present, else `From`;
//! - the recipients are the addresses of `To`, `Cc` and `Bcc` (every
//!   occurrence, groups expanded, duplicates dropped, in that order);
//! - `Bcc` and `Resent-Bcc` are never transmitted, whatever the envelope.
//!
//! Only the header block is looked at; the body is streamed untouched.

use std::io::Read;
use std::ops::Range;

use mailparse::{MailAddr, MailHeader, addrparse_header, parse_header};

use crate::Error;

/// Largest header block `send_message` reads before the body.
pub(crate) const MAX_HEADER_BLOCK: usize = 1024 * 1024;

/// What the headers say about the envelope, and which bytes to leave out.
#[derive(Debug, Default)]
pub(crate) struct Headers {
    pub(crate) sender: Option<String>,
    pub(crate) recipients: Vec<String>,
    /// Byte ranges of the `Bcc`/`Resent-Bcc` fields (folded lines
    /// included), in order.
    pub(crate) drop: Vec<Range<usize>>,
}

/// Applies the rules to the header block at the start of `msg` (the
/// block ends at the first empty line, or at the end of `msg`).
pub(crate) fn analyze(msg: &[u8]) -> Result<Headers, Error> {
    let mut fields: Vec<(MailHeader<'_>, Range<usize>)> = Vec::new();
    let mut ix = 0;
    while let Some(rest) = msg.get(ix..) {
        if rest.is_empty() || rest.starts_with(b"\n") || rest.starts_with(b"\r\n") {
            break;
        }
        let (header, n) = parse_header(rest)
            .map_err(|e| Error::InvalidMessage(format!("unparsable header: {e}")))?;
        if n == 0 {
            break;
        }
        fields.push((header, ix..ix.saturating_add(n)));
        ix = ix.saturating_add(n);
    }
    let named = |name: String| -> Vec<&MailHeader<'_>> {
        fields
            .iter()
            .filter(|(h, _)| h.get_key_ref().trim().eq_ignore_ascii_case(&name))
            .map(|(h, _)| h)
            .collect()
    };
    let prefix = match named("Resent-Date".to_owned()).len() {
        0 => "",
        1 => "Resent-",
        _ => {
            return Err(Error::InvalidMessage(
                "message has more than one 'Resent-' header block".to_owned(),
            ));
        }
    };
    let sender_field = named(format!("{prefix}Sender"))
        .first()
        .copied()
        .or_else(|| named(format!("{prefix}From")).first().copied());
    let sender = match sender_field {
        Some(h) => addresses(h)?.into_iter().next(),
        None => None,
    };
    let mut recipients: Vec<String> = Vec::new();
    for name in ["To", "Cc", "Bcc"] {
        for h in named(format!("{prefix}{name}")) {
            for a in addresses(h)? {
                if !recipients.contains(&a) {
                    recipients.push(a);
                }
            }
        }
    }
    let drop = fields
        .iter()
        .filter(|(h, _)| {
            let key = h.get_key_ref();
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

/// The mailbox addresses of an address field.
fn addresses(h: &MailHeader<'_>) -> Result<Vec<String>, Error> {
    let list = addrparse_header(h).map_err(|e| {
        Error::InvalidMessage(format!("unparsable addresses in {}: {e}", h.get_key_ref()))
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

/// The message without the dropped ranges, as slices in order.
pub(crate) fn kept<'a>(msg: &'a [u8], drop: &[Range<usize>]) -> Vec<&'a [u8]> {
    let mut parts = Vec::with_capacity(drop.len() + 1);
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

/// Reads the header block (through the empty line that ends it) from
/// `reader`, at most [`MAX_HEADER_BLOCK`] bytes. Returns the bytes read,
/// which may run past the block into the body.
pub(crate) fn read_header_block(reader: &mut dyn Read) -> Result<Vec<u8>, Error> {
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
        let n = match reader.read(&mut chunk) {
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

/// Where the header block ends (after its empty line), if it does.
pub(crate) fn header_end(buf: &[u8]) -> Option<usize> {
    if buf.starts_with(b"\n") {
        return Some(1);
    }
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    let lf = buf
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| i.saturating_add(2));
    let crlf = buf
        .windows(3)
        .position(|w| w == b"\n\r\n")
        .map(|i| i.saturating_add(3));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_headers_give_sender_and_recipients() {
        let msg = b"From: A <a@x.org>\r\nTo: b@x.org, C <c@x.org>\r\nCc: g: d@x.org;\r\nBcc: e@x.org\r\n\r\nbody\r\n";
        let h = analyze(msg).unwrap();
        assert_eq!(h.sender.as_deref(), Some("a@x.org"));
        assert_eq!(h.recipients, ["b@x.org", "c@x.org", "d@x.org", "e@x.org"]);
        let kept: Vec<u8> = kept(msg, &h.drop).concat();
        assert_eq!(
            kept,
            b"From: A <a@x.org>\r\nTo: b@x.org, C <c@x.org>\r\nCc: g: d@x.org;\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn sender_wins_over_from_and_folded_bcc_is_dropped() {
        let msg = b"From: a@x.org\nSender: s@x.org\nBcc: e@x.org,\n f@x.org\nTo: b@x.org\n\n";
        let h = analyze(msg).unwrap();
        assert_eq!(h.sender.as_deref(), Some("s@x.org"));
        assert_eq!(h.recipients, ["b@x.org", "e@x.org", "f@x.org"]);
        assert_eq!(
            kept(msg, &h.drop).concat(),
            b"From: a@x.org\nSender: s@x.org\nTo: b@x.org\n\n"
        );
    }

    #[test]
    fn one_resent_block_selects_resent_headers() {
        let msg = b"From: a@x.org\nTo: b@x.org\nResent-Date: today\nResent-From: r@x.org\nResent-To: t@x.org\nResent-Bcc: u@x.org\n\nbody";
        let h = analyze(msg).unwrap();
        assert_eq!(h.sender.as_deref(), Some("r@x.org"));
        assert_eq!(h.recipients, ["t@x.org", "u@x.org"]);
        assert!(
            !kept(msg, &h.drop)
                .concat()
                .windows(10)
                .any(|w| w == b"Resent-Bcc")
        );
    }

    #[test]
    fn two_resent_blocks_are_an_error() {
        let msg = b"Resent-Date: a\nResent-Date: b\nTo: x@y.org\n\n";
        assert!(matches!(analyze(msg), Err(Error::InvalidMessage(_))));
    }

    #[test]
    fn header_end_finds_the_empty_line() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody"), Some(6));
        assert_eq!(header_end(b"A: b\n"), None);
        assert_eq!(header_end(b"\r\nbody"), Some(2));
    }
}
