//! SMTP replies: the reply types and the bounded, incremental reply parser.
//!
//! Two layers, as in imap-codec: lines are framed first, with every limit
//! enforced while framing, and only framed lines are parsed. The same framing
//! code drives both entry points:
//!
//! - [`parse_reply`] is stateless and zero-copy, in httparse's style: give it
//!   the bytes received so far and it returns [`Status::Partial`] or one
//!   complete [`ReplyRef`] and the number of bytes it used.
//! - [`ReplyReader`] owns the connection's one receive buffer. It frames each
//!   byte once, however the input is split, and returns owned [`Reply`]s.
//!
//! # Grammar (RFC 5321 §4.2)
//!
//! ```text
//! Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//!              Reply-code [ SP textstring ] CRLF
//! Reply-code = %x32-35 %x30-35 %x30-39
//! textstring = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
//! ```
//!
//! Every line of one reply must carry the same code
//! ([`ReplyError::InconsistentCodes`] otherwise): a parser that reports
//! `250-a` followed by `550 b` as a `250` turns a refusal into a success.
//!
//! # Decisions where we differ from the letter of the grammar
//!
//! - **Text is bytes.** Any byte other than LF is kept in the text: NUL,
//!   control characters and non-UTF-8 bytes included. Servers do send 8-bit
//!   text (localised messages, RFC 6531 addresses), and refusing the reply
//!   would hide the diagnostic the user needs. The price is that the text is
//!   untrusted: code that prints or logs it must escape it. [`Reply`]'s
//!   `Display` decodes it lossily and does not escape control characters.
//! - **A lone CR is text.** Only a CR immediately before the LF belongs to
//!   the line terminator. A CR anywhere else does not end a line, because
//!   SMTP lines end at CRLF only, and a parser that split lines on CR would
//!   see different line boundaries from the server's (a smuggling hazard).
//!   So `250 a\rb\r\n` is one line whose text is `a\rb`.
//! - **A code alone is a line.** `250` and `250 ` both have empty text; so
//!   has `250-` in a multi-line reply.
//! - **Bare LF.** By default an LF without a CR before it is
//!   [`ReplyError::BareLf`]; with [`ParserConfig::allow_bare_lf`] it ends the
//!   line like CRLF does.
//!
//! # Limits
//!
//! The limits in [`ParserConfig`] are checked while framing, before a reply
//! is complete, so memory stays bounded whatever the peer sends:
//!
//! - a line longer than `max_line_len` bytes (terminator included) is
//!   [`ReplyError::LineTooLong`] as soon as more than `max_line_len` bytes
//!   of it have arrived without an LF;
//! - a reply longer than `max_reply_len` bytes is
//!   [`ReplyError::ReplyTooLong`] as soon as the first byte beyond the limit
//!   has arrived;
//! - a reply with more than `max_lines` lines is [`ReplyError::TooManyLines`]
//!   as soon as line number `max_lines` turns out to be a continuation line
//!   (`250-`), since a continuation line promises at least one more line.
//!
//! # Errors and resynchronisation
//!
//! An error is reported once, then the reader skips the offending bytes so
//! that [`ReplyReader::next_reply`] can go on:
//!
//! - an error found on a complete line (a bad code or separator, a bare LF,
//!   inconsistent codes, too many lines) drops the offending reply's bytes
//!   up to and including that line's LF;
//! - an error found on an incomplete line (line or reply too long) drops the
//!   bytes received so far and then keeps discarding input until the next
//!   LF, which may arrive in a later `push`.
//!
//! Reading resumes at the next line, which is parsed as the start of a new
//! reply. This keeps the reader usable, but the replies after an error may
//! be the tail of the broken one: a session must treat any [`ReplyError`] as
//! fatal: garbage is never skipped to re-align.
//!
//! The results are the same however the input is split into `push` calls,
//! and the same as calling [`parse_reply`] repeatedly on the whole input.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

mod code;
mod parse;
mod reader;
#[cfg(test)]
mod tests;

pub use code::{EnhancedStatusCode, ReplyCode};
pub use parse::parse_reply;
pub use reader::ReplyReader;

/// The least a [`ReplyReader`] asks for when its reply buffer is full:
/// room for about a hundred typical replies per allocation when replies
/// are kept.
const ARENA_CHUNK: usize = 8 * 1024;

/// Appends the lines' text to `out`, an LF between each two.
fn join_into<'a>(out: &mut impl BufMut, lines: impl Iterator<Item = &'a [u8]>) {
    for (i, line) in lines.enumerate() {
        if i > 0 {
            out.put_u8(b'\n');
        }
        out.put_slice(line);
    }
}

/// The outcome of a parse that may need more input, as in httparse.
///
/// `Partial` is not an error: it means the bytes so far are a valid prefix
/// and the caller should read more and try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status<T> {
    /// The input holds a complete item.
    Complete(T),
    /// The input is a valid but incomplete prefix: more bytes are needed.
    Partial,
}

impl<T> Status<T> {
    /// Returns `true` for [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// Returns `true` for [`Status::Partial`].
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// Maps the complete value, keeping `Partial` as it is.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Status::Complete(value) => Status::Complete(f(value)),
            Status::Partial => Status::Partial,
        }
    }
}

/// Limits and leniencies of the reply parser.
///
/// Leniencies are runtime flags named `allow_*`, as in httparse, never Cargo
/// features. The struct is `#[non_exhaustive]`: start from
/// [`ParserConfig::default`] and set fields or use the `with_*` methods.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParserConfig {
    /// Longest accepted reply line in bytes, CRLF included (default 8192).
    ///
    /// RFC 5321 §4.5.3.1.5 sets 512 octets, but real servers exceed it with
    /// long EHLO and error lines, so the default is generous.
    pub max_line_len: usize,
    /// Most lines accepted in one reply (default 256).
    pub max_lines: usize,
    /// Most bytes accepted in one reply, terminators included (default 65536).
    pub max_reply_len: usize,
    /// Accept a bare LF as a line terminator (default `false`).
    ///
    /// RFC 5321 §2.3.8 allows only CRLF; some broken servers send LF alone.
    pub allow_bare_lf: bool,
}

impl ParserConfig {
    /// The default for [`ParserConfig::max_line_len`].
    pub const DEFAULT_MAX_LINE_LEN: usize = 8192;
    /// The default for [`ParserConfig::max_lines`].
    pub const DEFAULT_MAX_LINES: usize = 256;
    /// The default for [`ParserConfig::max_reply_len`].
    pub const DEFAULT_MAX_REPLY_LEN: usize = 65536;

    /// Returns the default configuration, usable in `const` contexts.
    pub const fn new() -> ParserConfig {
        ParserConfig {
            max_line_len: Self::DEFAULT_MAX_LINE_LEN,
            max_lines: Self::DEFAULT_MAX_LINES,
            max_reply_len: Self::DEFAULT_MAX_REPLY_LEN,
            allow_bare_lf: false,
        }
    }

    /// Sets [`ParserConfig::max_line_len`].
    #[must_use]
    pub const fn with_max_line_len(mut self, max_line_len: usize) -> ParserConfig {
        self.max_line_len = max_line_len;
        self
    }

    /// Sets [`ParserConfig::max_lines`].
    #[must_use]
    pub const fn with_max_lines(mut self, max_lines: usize) -> ParserConfig {
        self.max_lines = max_lines;
        self
    }

    /// Sets [`ParserConfig::max_reply_len`].
    #[must_use]
    pub const fn with_max_reply_len(mut self, max_reply_len: usize) -> ParserConfig {
        self.max_reply_len = max_reply_len;
        self
    }

    /// Sets [`ParserConfig::allow_bare_lf`].
    #[must_use]
    pub const fn with_allow_bare_lf(mut self, allow_bare_lf: bool) -> ParserConfig {
        self.allow_bare_lf = allow_bare_lf;
        self
    }
}

impl Default for ParserConfig {
    fn default() -> ParserConfig {
        ParserConfig::new()
    }
}

/// Why bytes received from the server are not a valid reply.
///
/// Each variant is a remote protocol error: the peer broke RFC 5321 §4.2 or
/// exceeded a [`ParserConfig`] limit. See the [module docs](self) for how the
/// reader resynchronises after one.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line does not start with three digits that follow the reply-code
    /// grammar (first 2-5, second 0-5, third 0-9), or has a fourth digit.
    #[error("invalid reply code (RFC 5321 §4.2 wants three digits: 2-5, 0-5, 0-9)")]
    InvalidCode,
    /// The reply code is followed by something other than SP, `-` or the
    /// end of the line.
    #[error("invalid separator after the reply code (expected SP, \"-\" or CRLF)")]
    InvalidSeparator,
    /// The lines of one multi-line reply carry different codes.
    #[error("the lines of a multi-line reply carry different reply codes")]
    InconsistentCodes,
    /// A line is longer than [`ParserConfig::max_line_len`].
    #[error("reply line longer than the configured maximum")]
    LineTooLong,
    /// A reply has more lines than [`ParserConfig::max_lines`].
    #[error("reply has more lines than the configured maximum")]
    TooManyLines,
    /// A reply is longer than [`ParserConfig::max_reply_len`].
    #[error("reply longer than the configured maximum")]
    ReplyTooLong,
    /// A line ends with LF alone while [`ParserConfig::allow_bare_lf`] is off.
    #[error("reply line ends with a bare LF instead of CRLF")]
    BareLf,
}

/// A complete server reply, owned: its code and the text of every line.
///
/// This is what the session hands out in events. The text is kept as bytes
/// (see the [module docs](self)); [`Reply::text_lossy`] and `Display` decode
/// it for people.
///
/// The text of all lines is held in one shared buffer (joined with LF,
/// which no parsed line can contain), so cloning a reply (into an event,
/// then a report) costs no allocation. Replies read by a [`ReplyReader`]
/// are cut from one buffer that the reader reuses once every reply cut
/// from it is dropped, so reading replies allocates nothing in steady
/// state; keeping a reply keeps that buffer (a few KB) alive.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    code: ReplyCode,
    text: Bytes,
}

impl Reply {
    /// Builds a reply from its code and the text of each line.
    ///
    /// Each element is the text after `250-` or `250 `, without the CRLF. An
    /// empty `lines` means one line with empty text, since a reply always has
    /// at least one line. The text is not checked, except that a line
    /// containing LF becomes two lines (as it would after
    /// [`Reply::write_to`] and a new parse), so callers building replies
    /// from untrusted text must reject LF themselves.
    pub fn new(code: ReplyCode, lines: Vec<Vec<u8>>) -> Reply {
        Reply::from_lines(code, lines.iter().map(Vec::as_slice))
    }

    /// Builds a reply from the text of each line (see [`Reply::new`]), in
    /// a buffer of its own.
    pub(crate) fn from_lines<'a>(code: ReplyCode, lines: impl Iterator<Item = &'a [u8]>) -> Reply {
        let mut joined = Vec::new();
        join_into(&mut joined, lines);
        Reply {
            code,
            text: Bytes::from(joined),
        }
    }

    /// Builds a reply from the text of each line, cut from `arena`.
    ///
    /// `len` is the joined text's length (the lines' lengths plus one LF
    /// between each two). When the arena has no room left it asks for at
    /// least [`ARENA_CHUNK`] bytes; `BytesMut` then takes its buffer back
    /// in place when no reply cut from it is still alive, and allocates a
    /// new one only when some reply is.
    pub(crate) fn from_lines_in<'a>(
        arena: &mut BytesMut,
        len: usize,
        code: ReplyCode,
        lines: impl Iterator<Item = &'a [u8]>,
    ) -> Reply {
        if arena.capacity() < len {
            arena.reserve(len.max(ARENA_CHUNK));
        }
        join_into(arena, lines);
        Reply {
            code,
            text: arena.split().freeze(),
        }
    }

    /// Returns the reply code, shared by all lines.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// Returns the text of every line, in order; at least one.
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &[u8]> + Clone + '_ {
        self.text.split(|b| *b == b'\n')
    }

    /// Returns the text of the first line.
    pub fn first_line(&self) -> &[u8] {
        self.lines().next().unwrap_or_default()
    }

    /// Returns the number of lines (at least 1).
    pub fn line_count(&self) -> usize {
        self.lines().count()
    }

    /// Returns the enhanced status code at the start of the first line.
    ///
    /// It is returned only when its class equals the reply code's class
    /// (RFC 3463 §2, RFC 2034 §4): a `250 5.1.1` reply carries no enhanced
    /// code, because a success cannot have a failure's detail.
    pub fn enhanced_code(&self) -> Option<EnhancedStatusCode> {
        enhanced_code(self.code, self.lines().next())
    }

    /// Returns the lines' text joined with `'\n'`, decoded as lossy UTF-8.
    ///
    /// This is the `smtp_error` that Python's smtplib reports.
    pub fn text_lossy(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }

    /// Appends the reply in its wire form, e.g. `250-a\r\n250 b\r\n`.
    ///
    /// A final line with empty text is written as the bare code (`250\r\n`),
    /// following the grammar, where SP only introduces text.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let digits = self.code.to_ascii();
        let mut lines = self.lines().peekable();
        while let Some(text) = lines.next() {
            out.extend_from_slice(&digits);
            if lines.peek().is_some() {
                out.push(b'-');
            } else if !text.is_empty() {
                out.push(b' ');
            }
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl fmt::Display for Reply {
    /// Writes the code, then SP and [`Reply::text_lossy`] unless the text is
    /// empty: `250 Ok`, or `250 first\nsecond` for a multi-line reply.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(self.code, self.text_lossy(), f)
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("code", &self.code.get())
            .field("lines", &DebugLines(self.lines()))
            .finish()
    }
}

impl From<ReplyRef<'_>> for Reply {
    fn from(reply: ReplyRef<'_>) -> Reply {
        reply.into_owned()
    }
}

/// A complete reply borrowed from the input buffer, without copying.
///
/// [`parse_reply`] returns it. It holds the reply's raw bytes, from the
/// first digit to the last LF, and splits them into lines on demand.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyRef<'a> {
    code: ReplyCode,
    raw: &'a [u8],
}

impl<'a> ReplyRef<'a> {
    /// Returns the reply code, shared by all lines.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// Returns the reply's bytes as received, terminators included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Returns an iterator over the text of each line (after `250-` or
    /// `250 `, without the terminator); it yields at least one item.
    pub fn lines(&self) -> ReplyLines<'a> {
        ReplyLines { rest: self.raw }
    }

    /// Returns the enhanced status code of the first line, as
    /// [`Reply::enhanced_code`] does.
    pub fn enhanced_code(&self) -> Option<EnhancedStatusCode> {
        enhanced_code(self.code, self.lines().next())
    }

    /// Returns the lines' text joined with `'\n'`, decoded as lossy UTF-8.
    pub fn text_lossy(&self) -> String {
        join_lossy(self.lines())
    }

    /// Copies the reply into an owned [`Reply`].
    pub fn to_owned(&self) -> Reply {
        Reply::from_lines(self.code, self.lines())
    }

    /// Copies the reply into an owned [`Reply`], consuming the view.
    pub fn into_owned(self) -> Reply {
        self.to_owned()
    }
}

impl fmt::Display for ReplyRef<'_> {
    /// Writes the same text as [`Reply`]'s `Display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(self.code, self.text_lossy(), f)
    }
}

impl fmt::Debug for ReplyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyRef")
            .field("code", &self.code.get())
            .field("lines", &DebugLines(self.lines()))
            .finish()
    }
}

/// The text of each line of a [`ReplyRef`], from [`ReplyRef::lines`].
#[derive(Clone, Debug)]
pub struct ReplyLines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ReplyLines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match memchr::memchr(b'\n', self.rest) {
            Some(lf) => self.rest.split_at_checked(lf + 1)?,
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        let content = match line.strip_suffix(b"\n") {
            Some(without_lf) => without_lf.strip_suffix(b"\r").unwrap_or(without_lf),
            None => line,
        };
        Some(line_text(content))
    }
}

/// Returns the text of a line without its terminator: what follows the code
/// and its separator, empty for a bare code.
fn line_text(content: &[u8]) -> &[u8] {
    content.get(4..).unwrap_or_default()
}

fn enhanced_code(code: ReplyCode, first_line: Option<&[u8]>) -> Option<EnhancedStatusCode> {
    EnhancedStatusCode::parse(first_line?).filter(|esc| esc.class == code.class())
}

fn join_lossy<'a>(lines: impl Iterator<Item = &'a [u8]>) -> String {
    let mut text = String::new();
    for (index, line) in lines.enumerate() {
        if index > 0 {
            text.push('\n');
        }
        text.push_str(&String::from_utf8_lossy(line));
    }
    text
}

fn display(code: ReplyCode, text: String, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if text.is_empty() {
        write!(f, "{code}")
    } else {
        write!(f, "{code} {text}")
    }
}

/// Debug-prints byte strings as escaped ASCII, so that binary text is visible.
struct DebugLines<I>(I);

impl<'a, I: Iterator<Item = &'a [u8]> + Clone> fmt::Debug for DebugLines<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.clone().map(EscapedBytes))
            .finish()
    }
}

struct EscapedBytes<'a>(&'a [u8]);

impl fmt::Debug for EscapedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}
