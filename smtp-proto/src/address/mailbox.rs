//! [`Mailbox`], [`ReversePath`] and [`ForwardPath`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::{AddressError, Domain, is_allowed_non_ascii, is_atext_ascii};

/// A validated mailbox, `local-part@domain`, without angle brackets.
///
/// The local part is kept exactly as it goes on the wire: a quoted local
/// part keeps its quotes and backslashes, and no normalisation happens
/// (`"abc"@x` and `abc@x` are different values, as RFC 5321 §2.4 leaves
/// their meaning to the receiving server).
///
/// # Grammar
///
/// RFC 5321 §4.1.2, with the RFC 6531 §3.3 extensions marked:
///
/// ```text
/// Mailbox        = Local-part "@" ( Domain / address-literal )
/// Local-part     = Dot-string / Quoted-string
/// Dot-string     = Atom *("."  Atom)
/// Atom           = 1*atext
/// atext          =/ UTF8-non-ascii               ; RFC 6531
/// Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
/// QcontentSMTP   = qtextSMTP / quoted-pairSMTP
/// quoted-pairSMTP  = %d92 %d32-126               ; backslash + printable or SP
/// qtextSMTP      = %d32-33 / %d35-91 / %d93-126   ; printable or SP but "\" and DQUOTE
/// qtextSMTP      =/ UTF8-non-ascii               ; RFC 6531
/// ```
///
/// `atext` is that of RFC 5322 §3.2.3: letters, digits and
/// `` ! # $ % & ' * + - / = ? ^ _ ` { | } ~ ``. `Domain` and
/// `address-literal` are described at [`Domain`]. An empty quoted string
/// (`""@example.org`) is grammatical and accepted. See the
/// [module docs](super) for length limits (the local part length is not
/// limited) and for the non-ASCII characters that are refused.
///
/// Both parts are shared strings, so a clone (into a command, an envelope
/// or a report) costs no allocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    local: Arc<str>,
    domain: Domain,
}

impl Mailbox {
    /// Parses `local-part@domain` (no angle brackets, no surrounding space).
    ///
    /// # Errors
    ///
    /// [`AddressError::Empty`], [`AddressError::MissingAt`],
    /// [`AddressError::EmptyLocalPart`], [`AddressError::InvalidLocalPart`],
    /// [`AddressError::ForbiddenCharacter`], or any error of
    /// [`Domain::parse`].
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        Self::parse_at(s, 0)
    }

    /// Builds a mailbox from a local part (in wire form: a dot-string, or a
    /// quoted string with its quotes) and a domain.
    ///
    /// # Errors
    ///
    /// [`AddressError::EmptyLocalPart`], [`AddressError::InvalidLocalPart`]
    /// or [`AddressError::ForbiddenCharacter`] (offsets into `local_part`).
    pub fn new(local_part: &str, domain: Domain) -> Result<Self, AddressError> {
        if local_part.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        let len = scan_local_part(local_part, 0)?;
        if len != local_part.len() {
            let offset = len;
            return Err(match local_part.get(len..).and_then(|r| r.chars().next()) {
                Some(ch) if !local_part.starts_with('"') => {
                    AddressError::ForbiddenCharacter { ch, offset }
                }
                _ => AddressError::InvalidLocalPart {
                    offset,
                    reason: "text after the closing quote",
                },
            });
        }
        Ok(Self {
            local: Arc::from(local_part),
            domain,
        })
    }

    /// [`Mailbox::parse`] for a mailbox found at byte `base` of the input.
    pub(super) fn parse_at(s: &str, base: usize) -> Result<Self, AddressError> {
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        let len = scan_local_part(s, base)?;
        let Some((local, rest)) = s.split_at_checked(len) else {
            return Err(AddressError::MissingAt);
        };
        let Some(domain) = rest.strip_prefix('@') else {
            return Err(if rest.is_empty() {
                AddressError::MissingAt
            } else {
                AddressError::InvalidLocalPart {
                    offset: base + len,
                    reason: "the quoted string is not followed by '@'",
                }
            });
        };
        let domain = Domain::parse_at(domain, base + len + 1)?;
        Ok(Self {
            local: Arc::from(local),
            domain,
        })
    }

    /// The local part in wire form (quotes and backslashes included).
    pub fn local_part(&self) -> &str {
        &self.local
    }

    /// The domain or address literal after the `@`.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// `true` if the local part is a quoted string.
    pub fn is_quoted(&self) -> bool {
        self.local.starts_with('"')
    }

    /// `true` if the mailbox has a non-ASCII character and so needs the
    /// SMTPUTF8 extension (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.local.is_ascii() || !self.domain.is_ascii()
    }

    /// The mailbox as a server without SMTPUTF8 can take it: the domain
    /// in A-labels, when only the domain is internationalized. `None`
    /// when the local part is not ASCII (only SMTPUTF8 can carry it) or
    /// the domain has no valid A-label form.
    pub fn to_ascii(&self) -> Option<Mailbox> {
        if !self.local.is_ascii() {
            return None;
        }
        Some(Mailbox {
            local: self.local.clone(),
            domain: self.domain.to_ascii().ok()?,
        })
    }
}

impl Mailbox {
    /// Appends `<local-part@domain>` to a command line, without going
    /// through `fmt` (the engine writes one per MAIL and RCPT).
    pub(crate) fn push_bracketed(&self, line: &mut String) {
        line.push('<');
        line.push_str(&self.local);
        line.push('@');
        line.push_str(self.domain.as_str());
        line.push('>');
    }
}

impl fmt::Display for Mailbox {
    /// Writes the wire form, `local-part@domain`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl FromStr for Mailbox {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Mailbox {
    type Error = AddressError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

/// Scans a local part at the start of `s` and returns its length in bytes.
///
/// A dot-string ends at the first `@` or at the end of `s`; a quoted string
/// ends after its closing quote. `base` is the offset of `s` in the input.
fn scan_local_part(s: &str, base: usize) -> Result<usize, AddressError> {
    if s.starts_with('"') {
        scan_quoted_string(s, base)
    } else {
        scan_dot_string(s, base)
    }
}

/// `Dot-string = Atom *("." Atom)`, ending at `@` or at the end of `s`.
fn scan_dot_string(s: &str, base: usize) -> Result<usize, AddressError> {
    let mut after_dot = true;
    for (i, ch) in s.char_indices() {
        if ch == '@' {
            return if i == 0 {
                Err(AddressError::EmptyLocalPart)
            } else if after_dot {
                Err(AddressError::InvalidLocalPart {
                    offset: base + i - 1,
                    reason: "the local part ends with '.'",
                })
            } else {
                Ok(i)
            };
        }
        if ch == '.' {
            if after_dot {
                return Err(AddressError::InvalidLocalPart {
                    offset: base + i,
                    reason: if i == 0 {
                        "the local part starts with '.'"
                    } else {
                        "two consecutive dots in the local part"
                    },
                });
            }
            after_dot = true;
        } else if is_atext_ascii(ch) || is_allowed_non_ascii(ch) {
            after_dot = false;
        } else {
            return Err(AddressError::ForbiddenCharacter {
                ch,
                offset: base + i,
            });
        }
    }
    if after_dot && !s.is_empty() {
        return Err(AddressError::InvalidLocalPart {
            offset: base + s.len() - 1,
            reason: "the local part ends with '.'",
        });
    }
    Ok(s.len())
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`; `s` starts with the
/// opening quote.
fn scan_quoted_string(s: &str, base: usize) -> Result<usize, AddressError> {
    let mut chars = s.char_indices().skip(1);
    while let Some((i, ch)) = chars.next() {
        match ch {
            '"' => return Ok(i + 1),
            '\\' => match chars.next() {
                Some((_, ' '..='~')) => {}
                Some((j, next)) => {
                    return Err(AddressError::ForbiddenCharacter {
                        ch: next,
                        offset: base + j,
                    });
                }
                None => {
                    return Err(AddressError::InvalidLocalPart {
                        offset: base + i,
                        reason: "the quoted string ends with a lone backslash",
                    });
                }
            },
            ' ' | '!' | '#'..='[' | ']'..='~' => {}
            c if is_allowed_non_ascii(c) => {}
            c => {
                return Err(AddressError::ForbiddenCharacter {
                    ch: c,
                    offset: base + i,
                });
            }
        }
    }
    Err(AddressError::InvalidLocalPart {
        offset: base,
        reason: "unterminated quoted string",
    })
}

/// Splits optional angle brackets off a path: `("a@b", 1)` for `"<a@b>"`,
/// `("a@b", 0)` for `"a@b"`.
fn strip_angle_brackets(s: &str) -> Result<(&str, usize), AddressError> {
    match s.strip_prefix('<') {
        Some(rest) => match rest.strip_suffix('>') {
            Some(inner) => Ok((inner, 1)),
            None => Err(AddressError::InvalidPath {
                reason: "'<' without a closing '>'",
            }),
        },
        None if s.ends_with('>') => Err(AddressError::InvalidPath {
            reason: "'>' without an opening '<'",
        }),
        None => Ok((s, 0)),
    }
}

/// The argument of `MAIL FROM:`: a mailbox, or the null path `<>` used for
/// bounces and other notifications (RFC 5321 §4.5.5).
///
/// # Grammar
///
/// RFC 5321 §4.1.2, without source routes (which clients SHOULD NOT send):
///
/// ```text
/// Reverse-path   = Path / "<>"
/// Path           = "<" [ A-d-l ":" ] Mailbox ">"
/// ```
///
/// Displays as it goes on the wire, with angle brackets: `<>` or
/// `<user@example.org>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReversePath(Option<Mailbox>);

impl ReversePath {
    /// The null reverse path, `<>`.
    pub const fn null() -> Self {
        Self(None)
    }

    /// Parses `""` or `"<>"` (null path), `"user@host"` or `"<user@host>"`.
    /// Surrounding white space is not trimmed; it is an error.
    ///
    /// # Errors
    ///
    /// [`AddressError::InvalidPath`] for unbalanced angle brackets,
    /// [`AddressError::SourceRoute`] for `<@relay:user@host>`, and any error
    /// of [`Mailbox::parse`] (offsets count the `<`).
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let (inner, base) = strip_angle_brackets(s)?;
        if inner.is_empty() {
            return Ok(Self::null());
        }
        if inner.starts_with('@') && inner.contains(':') {
            return Err(AddressError::SourceRoute);
        }
        Mailbox::parse_at(inner, base).map(|m| Self(Some(m)))
    }

    /// Parses an address as a person writes it: `user@host`,
    /// `<user@host>`, or an RFC 5322 name-addr, `Display Name <user@host>`
    /// (the display name is dropped; the envelope carries the addr-spec).
    /// Surrounding white space is ignored. Everything else is as strict as
    /// [`parse`](Self::parse).
    ///
    /// # Errors
    /// As [`parse`](Self::parse), for the part in angle brackets.
    pub fn parse_name_addr(s: &str) -> Result<Self, AddressError> {
        Self::parse(addr_spec_of(s)?)
    }

    /// `true` for the null path `<>`.
    pub fn is_null(&self) -> bool {
        self.0.is_none()
    }

    /// The mailbox, or `None` for the null path.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        self.0.as_ref()
    }

    /// `true` if the mailbox has a non-ASCII character (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        self.0.as_ref().is_some_and(Mailbox::needs_smtputf8)
    }

    /// The path with its domain in A-labels (see [`Mailbox::to_ascii`]);
    /// `None` when it cannot be written in ASCII.
    pub fn to_ascii(&self) -> Option<ReversePath> {
        match &self.0 {
            None => Some(ReversePath(None)),
            Some(m) => m.to_ascii().map(|m| ReversePath(Some(m))),
        }
    }
}

impl Default for ReversePath {
    /// The null path.
    fn default() -> Self {
        Self::null()
    }
}

impl From<Mailbox> for ReversePath {
    fn from(mailbox: Mailbox) -> Self {
        Self(Some(mailbox))
    }
}

impl ReversePath {
    /// Appends the path as [`Display`](fmt::Display) writes it, without
    /// going through `fmt`.
    pub(crate) fn push_to(&self, line: &mut String) {
        match &self.0 {
            Some(mailbox) => mailbox.push_bracketed(line),
            None => line.push_str("<>"),
        }
    }
}

impl fmt::Display for ReversePath {
    /// Writes `<>` or `<local-part@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(mailbox) => write!(f, "<{mailbox}>"),
            None => f.write_str("<>"),
        }
    }
}

impl FromStr for ReversePath {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for ReversePath {
    type Error = AddressError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

/// The argument of `RCPT TO:`: a mailbox, or the special `<Postmaster>`
/// that every server accepts without a domain (RFC 5321 §4.1.1.3, §4.5.1).
///
/// # Grammar
///
/// RFC 5321 §4.1.1.3 and §4.1.2, without source routes:
///
/// ```text
/// rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
///                     Forward-path ) [SP Rcpt-parameters] CRLF
/// Forward-path   = Path
/// Path           = "<" [ A-d-l ":" ] Mailbox ">"
/// ```
///
/// `Postmaster@domain` is an ordinary mailbox here. Displays with angle
/// brackets: `<Postmaster>` or `<user@example.org>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ForwardPath(Recipient);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Recipient {
    Mailbox(Mailbox),
    Postmaster,
}

impl ForwardPath {
    /// The special recipient `<Postmaster>` (no domain).
    pub const fn postmaster() -> Self {
        Self(Recipient::Postmaster)
    }

    /// Parses `"user@host"`, `"<user@host>"`, or `"Postmaster"` /
    /// `"<Postmaster>"` in any letter case.
    ///
    /// # Errors
    ///
    /// [`AddressError::Empty`] for `""`, [`AddressError::InvalidPath`] for
    /// `"<>"` or unbalanced angle brackets, [`AddressError::SourceRoute`],
    /// and any error of [`Mailbox::parse`] (offsets count the `<`).
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let (inner, base) = strip_angle_brackets(s)?;
        if inner.is_empty() {
            return Err(if s.is_empty() {
                AddressError::Empty
            } else {
                AddressError::InvalidPath {
                    reason: "the null path <> is not a recipient",
                }
            });
        }
        if inner.eq_ignore_ascii_case("postmaster") {
            return Ok(Self::postmaster());
        }
        if inner.starts_with('@') && inner.contains(':') {
            return Err(AddressError::SourceRoute);
        }
        Mailbox::parse_at(inner, base).map(|m| Self(Recipient::Mailbox(m)))
    }

    /// Parses an address as a person writes it, like
    /// [`ReversePath::parse_name_addr`]: `user@host`, `<user@host>` or
    /// `Display Name <user@host>`.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), for the part in angle brackets.
    pub fn parse_name_addr(s: &str) -> Result<Self, AddressError> {
        Self::parse(addr_spec_of(s)?)
    }

    /// `true` for the special `<Postmaster>` recipient.
    pub fn is_postmaster(&self) -> bool {
        matches!(self.0, Recipient::Postmaster)
    }

    /// The mailbox, or `None` for `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match &self.0 {
            Recipient::Mailbox(mailbox) => Some(mailbox),
            Recipient::Postmaster => None,
        }
    }

    /// `true` if the mailbox has a non-ASCII character (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        self.mailbox().is_some_and(Mailbox::needs_smtputf8)
    }

    /// The path with its domain in A-labels (see [`Mailbox::to_ascii`]);
    /// `None` when it cannot be written in ASCII.
    pub fn to_ascii(&self) -> Option<ForwardPath> {
        match &self.0 {
            Recipient::Postmaster => Some(self.clone()),
            Recipient::Mailbox(m) => m.to_ascii().map(|m| ForwardPath(Recipient::Mailbox(m))),
        }
    }
}

impl From<Mailbox> for ForwardPath {
    fn from(mailbox: Mailbox) -> Self {
        Self(Recipient::Mailbox(mailbox))
    }
}

impl ForwardPath {
    /// Appends the path as [`Display`](fmt::Display) writes it, without
    /// going through `fmt`.
    pub(crate) fn push_to(&self, line: &mut String) {
        match &self.0 {
            Recipient::Mailbox(mailbox) => mailbox.push_bracketed(line),
            Recipient::Postmaster => line.push_str("<Postmaster>"),
        }
    }
}

impl fmt::Display for ForwardPath {
    /// Writes `<Postmaster>` or `<local-part@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Recipient::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
            Recipient::Postmaster => f.write_str("<Postmaster>"),
        }
    }
}

impl FromStr for ForwardPath {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for ForwardPath {
    type Error = AddressError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

/// The path part of what a person wrote: `Name <a@b>` gives `<a@b>`
/// (the last `<` whose `>` ends the text, so a quoted display name may hold
/// angle brackets of its own); anything else is returned without its
/// surrounding spaces. A control character anywhere (CR, LF, NUL, TAB,
/// DEL, ...) is an error even in the display name that is dropped: input
/// like `"a@b\r\nRCPT TO:<c@d>"` is an injection attempt, not a name.
fn addr_spec_of(s: &str) -> Result<&str, AddressError> {
    if let Some((offset, ch)) = s.char_indices().find(|(_, c)| c.is_control()) {
        return Err(AddressError::ForbiddenCharacter { ch, offset });
    }
    let t = s.trim_matches(' ');
    if t.ends_with('>')
        && let Some(i) = t.rfind('<')
        && i > 0
    {
        return Ok(t.get(i..).unwrap_or(t));
    }
    Ok(t)
}
