//! Validated envelope addresses: [`Domain`], [`Mailbox`], [`ReversePath`]
//! and [`ForwardPath`].
//!
//! Every type here is a newtype that can only be built by a parser that
//! follows the RFC 5321 §4.1.2 and §4.1.3 grammar, extended for
//! internationalized addresses by RFC 6531 §3.3. A value that exists is safe
//! to put inside `<` and `>` on a command line: it contains no CR, LF, NUL or
//! other control character, no `<`, `>` or space outside a correctly quoted
//! local part, and no unbalanced quote or trailing backslash. Parameter
//! smuggling such as `a@b> SIZE=1` or `a@b>\r\nRCPT TO:<c@d` is rejected at
//! parse time, and the command encoder checks the final line once more.
//!
//! A quoted local part may legitimately hold `<`, `>`, `@`, spaces and
//! escaped quotes (`"a\"> SIZE=1 "@example.org` is one valid mailbox). The
//! parser follows the grammar exactly, so such text always stays between
//! the quotes on the wire; a server that parses RFC 5321 correctly sees one
//! mailbox.
//!
//! # Non-ASCII addresses
//!
//! UTF-8 is accepted wherever RFC 6531 §3.3 adds `UTF8-non-ascii` (local part
//! characters, quoted-string text) or `U-label` (domain labels). Such a value
//! reports `needs_smtputf8() == true`; the session engine refuses to send it
//! unless the server offered SMTPUTF8. Some non-ASCII characters are refused
//! even though the grammar would allow them, because they hide or fake
//! structure: every Unicode control (C1 included), every Unicode white space
//! (NO-BREAK SPACE, LINE SEPARATOR, …) and the invisible or direction-changing
//! format characters (ZERO WIDTH SPACE, LEFT-TO-RIGHT MARK, the bidi
//! embeddings, overrides and isolates, WORD JOINER, BYTE ORDER MARK). The
//! joiners ZWJ and ZWNJ are allowed: some scripts need them. IDNA2008 validity
//! of U-labels (normalisation, per-code-point rules) is not checked: that
//! needs Unicode tables, and the receiving server decides.
//!
//! # Length limits (RFC 5321 §4.5.3.1)
//!
//! - A domain label is at most 63 octets and a domain at most 255 octets
//!   (§4.5.3.1.2). These are DNS limits, so they are enforced. A U-label is
//!   measured in its A-label form (`xn--` + Punycode, RFC 3492), which is the
//!   form DNS sees; the length is computed exactly, without Unicode tables,
//!   for labels that are already valid U-labels (NFC, lower case). An
//!   address literal is held to the same 255-octet limit.
//! - The local part limit (64 octets, §4.5.3.1.1) and the path limit (256
//!   octets, §4.5.3.1.3) are **not** enforced. The same section asks
//!   implementations to impose no limits where they can, the local part is
//!   interpreted only by the receiving server, and real senders (VERP, SRS,
//!   BATV) exceed 64 octets. An over-long path gets a clear 5xx reply from
//!   the server instead of a local error that would block mail a lenient
//!   server accepts.

mod domain;
mod mailbox;
#[cfg(test)]
mod tests;

pub use domain::Domain;
pub use mailbox::{ForwardPath, Mailbox, ReversePath};

/// Why a string is not a valid domain, mailbox or path.
///
/// Offsets are byte offsets into the string given to the `parse` call that
/// failed (for [`ReversePath::parse`] on `"<a b@c>"`, the space is at 2).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The input is empty where an address is required.
    #[error("the address is empty")]
    Empty,
    /// An internationalized domain has no valid A-label form (IDNA
    /// refused it), so it cannot be sent to a server without SMTPUTF8.
    #[error("the domain has no valid IDNA (A-label) form")]
    InvalidIdna,
    /// A mailbox has no `@` between its local part and its domain.
    #[error("the mailbox has no '@' between local part and domain")]
    MissingAt,
    /// A mailbox starts with `@`.
    #[error("the local part is empty")]
    EmptyLocalPart,
    /// A mailbox ends with `@`, or a domain is empty.
    #[error("the domain is empty")]
    EmptyDomain,
    /// A character that may not appear at this place: a control character,
    /// white space outside a quoted string, an invisible format character, a
    /// character that needs quoting (`<`, `>`, `(`, `,`, `@` …) in a
    /// dot-string, or anything but letters, digits and `-` in a domain label.
    #[error("character {ch:?} is not allowed at byte {offset}")]
    ForbiddenCharacter {
        /// The character.
        ch: char,
        /// Byte offset of the character.
        offset: usize,
    },
    /// The local part is malformed (dots misplaced, quoted string not
    /// terminated or followed by something other than `@`, bad escape).
    #[error("invalid local part at byte {offset}: {reason}")]
    InvalidLocalPart {
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The domain is malformed (empty label, label starting or ending with
    /// `-`).
    #[error("invalid domain at byte {offset}: {reason}")]
    InvalidDomain {
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A domain label is longer than 63 octets (RFC 5321 §4.5.3.1.2; for a
    /// U-label, measured as its A-label).
    #[error("the domain label at byte {offset} is longer than 63 octets")]
    LabelTooLong {
        /// Byte offset of the label.
        offset: usize,
    },
    /// A domain or address literal is longer than 255 octets (RFC 5321
    /// §4.5.3.1.2).
    #[error("the domain is longer than 255 octets")]
    DomainTooLong,
    /// An address literal (`[...]`) does not follow RFC 5321 §4.1.3.
    #[error("invalid address literal: {reason}")]
    InvalidAddressLiteral {
        /// What is wrong.
        reason: &'static str,
    },
    /// The path is malformed: unbalanced angle brackets, or `<>` where a
    /// recipient is required.
    #[error("invalid path: {reason}")]
    InvalidPath {
        /// What is wrong.
        reason: &'static str,
    },
    /// The path carries a source route (`<@relay:user@host>`). RFC 5321
    /// §4.1.2 says clients SHOULD NOT generate them; this crate never does.
    #[error("source routes (\"@relay:\") are not supported")]
    SourceRoute,
}

/// `atext` of RFC 5322 §3.2.3, ASCII part:
///
/// ```text
/// atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
///         "-" / "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"
/// ```
pub(crate) fn is_atext_ascii(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '#'
                | '$'
                | '%'
                | '&'
                | '\''
                | '*'
                | '+'
                | '-'
                | '/'
                | '='
                | '?'
                | '^'
                | '_'
                | '`'
                | '{'
                | '|'
                | '}'
                | '~'
        )
}

/// Invisible or direction-changing format characters: they make an address
/// or a logged line look different from what is sent.
pub(crate) fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// A non-ASCII character that may appear where RFC 6531 §3.3 allows
/// `UTF8-non-ascii` in an address or ESMTP value (see the module docs for
/// what is refused and why).
pub(crate) fn is_allowed_non_ascii(c: char) -> bool {
    !c.is_ascii() && !c.is_control() && !c.is_whitespace() && !is_invisible_format(c)
}
