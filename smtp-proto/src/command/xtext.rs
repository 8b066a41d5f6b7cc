//! xtext (RFC 3461 §4) and utf-8-addr-xtext (RFC 6533 §3).

use std::fmt::Write as _;

use super::CommandError;

/// Encodes bytes as xtext (RFC 3461 §4), the encoding of the ENVID, ORCPT
/// and AUTH= parameter values.
///
/// ```text
/// xtext   = *( xchar / hexchar )
/// xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
///           except for "+" and "="
/// hexchar = ASCII "+" immediately followed by two upper case
///           hexadecimal digits
/// ```
///
/// Every byte outside `xchar` (controls, space, `+`, `=`, DEL and every
/// non-ASCII byte) becomes `+XX`, so the result is always printable ASCII
/// without space and [`xtext_decode`] gives the input back.
///
/// ```
/// use smtp_proto::command::xtext_encode;
/// assert_eq!(xtext_encode(b"a+b=c d"), "a+2Bb+3Dc+20d");
/// ```
pub fn xtext_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if is_xchar(b) {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "+{b:02X}");
        }
    }
    out
}

/// Decodes xtext (RFC 3461 §4; grammar at [`xtext_encode`]).
///
/// Strict: the hex digits after `+` must be upper case, as the grammar says,
/// and every other character must be an `xchar`.
///
/// # Errors
///
/// [`CommandError::InvalidXtext`] with the byte offset of the first
/// character that breaks the grammar.
pub fn xtext_decode(text: &str) -> Result<Vec<u8>, CommandError> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes().enumerate();
    while let Some((offset, b)) = bytes.next() {
        if b == b'+' {
            let high = bytes.next().and_then(|(_, h)| upper_hex_value(h));
            let low = bytes.next().and_then(|(_, l)| upper_hex_value(l));
            match (high, low) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(CommandError::InvalidXtext { offset }),
            }
        } else if is_xchar(b) {
            out.push(b);
        } else {
            return Err(CommandError::InvalidXtext { offset });
        }
    }
    Ok(out)
}

/// `xchar`: `!` to `~` except `+` and `=`.
fn is_xchar(b: u8) -> bool {
    (b'!'..=b'~').contains(&b) && b != b'+' && b != b'='
}

fn upper_hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Encodes a UTF-8 address as `utf-8-addr-xtext` (RFC 6533 §3), the 7-bit
/// form that is safe in ORCPT whether or not the server offered SMTPUTF8:
///
/// ```text
/// utf-8-addr-xtext    = 1*(QCHAR / EmbeddedUnicodeChar)
/// QCHAR               = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e
///                       ; printable ASCII except SP, "\", "+", "="
/// EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}"   ; "\x{...}"
/// ```
///
/// `HEXPOINT` is upper-case hex without leading zeros. The result contains
/// only `xchar`s (`\`, `{` and `}` are xchars), so it is valid xtext as it
/// stands and needs no second encoding. `address` must hold no control
/// characters (a [`Mailbox`](crate::address::Mailbox) never does); a stray
/// one would be escaped the same way.
pub(crate) fn utf8_addr_xtext(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    for ch in address.chars() {
        if ch.is_ascii_graphic() && !matches!(ch, '\\' | '+' | '=') {
            out.push(ch);
        } else {
            let _ = write!(out, "\\x{{{:X}}}", u32::from(ch));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{CommandError, utf8_addr_xtext, xtext_decode, xtext_encode};

    #[test]
    fn encode_table() {
        assert_eq!(xtext_encode(b""), "");
        assert_eq!(xtext_encode(b"x+"), "x+2B");
        assert_eq!(xtext_encode(b"a=b"), "a+3Db");
        assert_eq!(xtext_encode(b" \r\n\0\x7f"), "+20+0D+0A+00+7F");
        assert_eq!(xtext_encode("é".as_bytes()), "+C3+A9");
        assert_eq!(xtext_encode(b"!~<>\\"), "!~<>\\");
    }

    #[test]
    fn decode_table() {
        assert_eq!(xtext_decode("x+2B").unwrap(), b"x+");
        assert_eq!(xtext_decode("").unwrap(), b"");
        assert_eq!(xtext_decode("+C3+A9").unwrap(), "é".as_bytes());
        assert_eq!(
            xtext_decode("a+2b"),
            Err(CommandError::InvalidXtext { offset: 1 })
        );
        assert_eq!(
            xtext_decode("ab+2"),
            Err(CommandError::InvalidXtext { offset: 2 })
        );
        assert_eq!(
            xtext_decode("a=b"),
            Err(CommandError::InvalidXtext { offset: 1 })
        );
        assert_eq!(
            xtext_decode("a b"),
            Err(CommandError::InvalidXtext { offset: 1 })
        );
        assert_eq!(
            xtext_decode("é"),
            Err(CommandError::InvalidXtext { offset: 0 })
        );
    }

    #[test]
    fn roundtrip_all_bytes() {
        let all: Vec<u8> = (0..=255).collect();
        let encoded = xtext_encode(&all);
        assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
        assert_eq!(xtext_decode(&encoded).unwrap(), all);
    }

    #[test]
    fn utf8_addr_xtext_table() {
        assert_eq!(utf8_addr_xtext("a@b"), "a@b");
        assert_eq!(utf8_addr_xtext("jö@b"), "j\\x{F6}@b");
        assert_eq!(
            utf8_addr_xtext("用户@例子.广告"),
            "\\x{7528}\\x{6237}@\\x{4F8B}\\x{5B50}.\\x{5E7F}\\x{544A}"
        );
        assert_eq!(
            utf8_addr_xtext("a+b=c\\d e"),
            "a\\x{2B}b\\x{3D}c\\x{5C}d\\x{20}e"
        );
        assert_eq!(utf8_addr_xtext("😀"), "\\x{1F600}");
        // Valid xtext as it stands: decoding is the identity.
        let s = utf8_addr_xtext("\"a b\"+é@x");
        assert_eq!(xtext_decode(&s).unwrap(), s.as_bytes());
    }
}
