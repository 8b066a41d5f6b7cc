//! Line framing with limits, and the stateless [`parse_reply`].
//!
//! [`Framer`] is the single implementation of the reply grammar and of the
//! limits; [`parse_reply`] and [`ReplyReader`](super::ReplyReader) both drive
//! it, which is what makes their results identical.

use std::ops::Range;

use super::{ParserConfig, ReplyCode, ReplyError, ReplyRef, Status};

/// Parses one reply from the start of `buf`, without copying.
///
/// ```text
/// Reply-line = *( Reply-code "-" [ textstring ] CRLF )   ; RFC 5321 §4.2
///              Reply-code [ SP textstring ] CRLF
/// Reply-code = %x32-35 %x30-35 %x30-39
/// ```
///
/// Returns [`Status::Complete`] with the reply and the number of bytes it
/// takes (always more than zero and at most `buf.len()`); the next reply
/// starts right after them. Returns [`Status::Partial`] when `buf` is a
/// valid but incomplete reply, empty input included.
///
/// Text bytes are kept as they are (NUL and non-UTF-8 included), a lone CR
/// is part of the text, and a code alone (`250`) is a line with empty text:
/// the [module docs](super) explain these choices.
///
/// This function starts from scratch on each call. To read a stream, use
/// [`ReplyReader`](super::ReplyReader), which never frames a byte twice.
///
/// # Errors
///
/// Any [`ReplyError`]: a malformed line, codes that differ between lines of
/// the reply, or a limit of `config` exceeded. Limits are checked on the
/// bytes present, so an over-long line is an error as soon as it is longer
/// than the limit, before its end arrives.
pub fn parse_reply<'a>(
    buf: &'a [u8],
    config: &ParserConfig,
) -> Result<Status<(ReplyRef<'a>, usize)>, ReplyError> {
    let mut framer = Framer::new();
    loop {
        match framer.next_line(buf, config) {
            Step::Line(line) if line.last => {
                let (raw, _) = buf.split_at_checked(line.end).unwrap_or((buf, &[]));
                let reply = ReplyRef {
                    code: line.code,
                    raw,
                };
                return Ok(Status::Complete((reply, raw.len())));
            }
            Step::Line(_) => {}
            Step::NeedMore => return Ok(Status::Partial),
            Step::Failed { error, .. } => return Err(error),
        }
    }
}

/// Frames and checks the lines of one reply, one at a time.
///
/// All offsets are relative to the first byte of the reply. The framer
/// remembers how far it searched the current, incomplete line for an LF, so
/// that a caller adding bytes one at a time does not search them again.
#[derive(Clone, Debug, Default)]
pub(super) struct Framer {
    /// Offset of the first byte of the current line.
    line_start: usize,
    /// Bytes of the current line already known to contain no LF.
    searched: usize,
    /// Lines of this reply framed so far.
    lines: usize,
    /// The code of the first line.
    code: Option<ReplyCode>,
}

/// One accepted line.
#[derive(Clone, Debug)]
pub(super) struct Line {
    /// The line's code, the same for every line of a reply.
    pub(super) code: ReplyCode,
    /// Where the text is, after the code and separator, before the terminator.
    pub(super) text: Range<usize>,
    /// Offset just after the line's LF.
    pub(super) end: usize,
    /// `true` for the final line (`250 ` or `250`), `false` for `250-`.
    pub(super) last: bool,
}

/// What the framer found.
#[derive(Clone, Debug)]
pub(super) enum Step {
    /// A complete, valid line.
    Line(Line),
    /// The current line is a valid, unterminated prefix.
    NeedMore,
    /// The reply is invalid; `resume` says which bytes to drop.
    Failed {
        /// What is wrong.
        error: ReplyError,
        /// How to resynchronise.
        resume: Resume,
    },
}

/// Where reading resumes after an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resume {
    /// At this offset, just after the LF of the offending line.
    At(usize),
    /// Drop the bytes before this offset, then everything up to and including
    /// the next LF, however late it comes.
    DiscardLineFrom(usize),
}

impl Framer {
    /// Returns a framer positioned at the start of a reply.
    pub(super) const fn new() -> Framer {
        Framer {
            line_start: 0,
            searched: 0,
            lines: 0,
            code: None,
        }
    }

    /// Frames the next line of the reply that starts at `reply[0]`.
    ///
    /// `reply` must hold the same bytes on every call, possibly more of them;
    /// after `Line` with `last`, or after `Failed`, the caller starts a new
    /// framer.
    pub(super) fn next_line(&mut self, reply: &[u8], config: &ParserConfig) -> Step {
        let rest = reply.get(self.line_start..).unwrap_or_default();
        // The line may use what is left of the reply budget, and no more than
        // the line limit; whichever is smaller names the error.
        let budget = config.max_reply_len.saturating_sub(self.line_start);
        let (window, limit_error) = if config.max_line_len <= budget {
            (config.max_line_len, ReplyError::LineTooLong)
        } else {
            (budget, ReplyError::ReplyTooLong)
        };
        let searchable = rest.get(..window).unwrap_or(rest);
        let from = self.searched.min(searchable.len());
        let found = searchable
            .get(from..)
            .and_then(|unsearched| memchr::memchr(b'\n', unsearched));
        let Some(lf) = found.map(|i| i + from) else {
            self.searched = searchable.len();
            if rest.len() > window {
                let resume = Resume::DiscardLineFrom(self.line_start + window);
                return Step::Failed {
                    error: limit_error,
                    resume,
                };
            }
            return Step::NeedMore;
        };
        let line_start = self.line_start;
        let end = line_start + lf + 1;
        self.line_start = end;
        self.searched = 0;
        let fail = |error| Step::Failed {
            error,
            resume: Resume::At(end),
        };

        let without_lf = searchable.get(..lf).unwrap_or_default();
        let content = match without_lf.strip_suffix(b"\r") {
            Some(content) => content,
            None if config.allow_bare_lf => without_lf,
            None => return fail(ReplyError::BareLf),
        };
        let (code, last) = match parse_line_start(content) {
            Ok(parsed) => parsed,
            Err(error) => return fail(error),
        };
        match self.code {
            Some(first) if first != code => return fail(ReplyError::InconsistentCodes),
            Some(_) => {}
            None => self.code = Some(code),
        }
        self.lines += 1;
        // A continuation line promises one more line, so line `max_lines`
        // being one already proves the reply too long.
        if self.lines > config.max_lines || (!last && self.lines >= config.max_lines) {
            return fail(ReplyError::TooManyLines);
        }
        let text_start = line_start + content.len().min(4);
        Step::Line(Line {
            code,
            text: text_start..line_start + content.len(),
            end,
            last,
        })
    }
}

/// Parses the code and separator of a line (terminator removed) and says
/// whether it is the final line.
///
/// ```text
/// line-start = Reply-code ( "-" / SP / end-of-line )
/// ```
///
/// A fourth digit (`2500`) is an invalid code rather than an invalid
/// separator: the peer sent a longer number, not a 250 followed by garbage.
fn parse_line_start(content: &[u8]) -> Result<(ReplyCode, bool), ReplyError> {
    let [a, b, c, rest @ ..] = content else {
        return Err(ReplyError::InvalidCode);
    };
    let code = ReplyCode::from_ascii(*a, *b, *c).ok_or(ReplyError::InvalidCode)?;
    match rest.first() {
        None | Some(b' ') => Ok((code, true)),
        Some(b'-') => Ok((code, false)),
        Some(d) if d.is_ascii_digit() => Err(ReplyError::InvalidCode),
        Some(_) => Err(ReplyError::InvalidSeparator),
    }
}
