//! [`ReplyReader`]: the incremental reader over the connection's one receive
//! buffer.

use bytes::BytesMut;

use super::parse::{Framer, Resume, Step};
use super::{ParserConfig, Reply, ReplyError};

/// Reads replies from a stream of received bytes, in any split.
///
/// The session engine keeps one reader per connection: every byte the
/// server sends goes through [`ReplyReader::push`], and
/// [`ReplyReader::next_reply`] returns the complete replies in order. One
/// buffer for the whole connection is what makes pipelining (several replies
/// in one read) and the STARTTLS check ([`ReplyReader::buffered_len`] is 0
/// after the `220`) possible.
///
/// # Cost
///
/// Each byte is framed once: the reader keeps its position in the current
/// reply and in the current line between calls, and finds line ends with
/// `memchr`. Consumed bytes are dropped lazily, when they make up at least
/// half of the buffer, so a push holding many replies costs linear time.
///
/// # Memory
///
/// After `next_reply` returns `Ok(None)`, the buffer holds at most
/// [`ParserConfig::max_reply_len`] bytes of one incomplete reply; a push adds
/// its own length on top until the next call. The buffer's capacity grows
/// to the largest such total and is kept for reuse.
///
/// # Errors and resynchronisation
///
/// After an error, the reader drops the offending reply's bytes up to the end
/// of the line where the error was found. For an over-long line it keeps
/// discarding input until the next LF, across pushes if needed. The next
/// call then reads from the following line. The [module docs](super) give
/// the details and why a session still treats the error as fatal.
#[derive(Clone, Debug)]
pub struct ReplyReader {
    config: ParserConfig,
    /// Received bytes; those before `start` are consumed.
    buf: Vec<u8>,
    /// Offset in `buf` of the first byte of the current reply.
    start: usize,
    /// Progress inside the current reply, relative to `start`.
    framer: Framer,
    /// Text ranges of the current reply's framed lines, relative to `start`;
    /// kept between replies to reuse the allocation.
    lines: Vec<std::ops::Range<usize>>,
    /// Set after an over-long line: drop input up to the next LF.
    discarding: bool,
    /// Where replies' texts are built and cut from (see [`Reply`]'s
    /// docs): reused once the replies cut from it are dropped.
    texts: BytesMut,
}

impl ReplyReader {
    /// Returns an empty reader that applies `config`'s limits and leniencies.
    pub fn new(config: ParserConfig) -> ReplyReader {
        ReplyReader {
            config,
            buf: Vec::new(),
            start: 0,
            framer: Framer::new(),
            lines: Vec::new(),
            discarding: false,
            texts: BytesMut::new(),
        }
    }

    /// Appends bytes received from the server.
    ///
    /// Call [`ReplyReader::next_reply`] until it returns `Ok(None)` after each
    /// push; that keeps the buffer within the limits. Nothing is parsed here,
    /// except that input is dropped while the reader is skipping the rest of
    /// an over-long line.
    pub fn push(&mut self, input: &[u8]) {
        let mut input = input;
        if self.discarding {
            // Only set when no bytes are pending, so skipping input here
            // keeps the order of the stream.
            let Some(lf) = memchr::memchr(b'\n', input) else {
                return;
            };
            self.discarding = false;
            input = input.get(lf + 1..).unwrap_or_default();
        }
        if input.is_empty() {
            return;
        }
        self.compact();
        self.buf.extend_from_slice(input);
    }

    /// Returns the next complete reply, or `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    ///
    /// A [`ReplyError`] when the next reply is malformed or exceeds a limit.
    /// The offending bytes are dropped as described in the type's docs, so a
    /// later call can continue with the following line.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        if self.discarding {
            self.discard_line();
            if self.discarding {
                return Ok(None);
            }
        }
        let pending = self.buf.get(self.start..).unwrap_or_default();
        loop {
            match self.framer.next_line(pending, &self.config) {
                Step::NeedMore => return Ok(None),
                Step::Line(line) => {
                    self.lines.push(line.text);
                    if line.last {
                        let len = self
                            .lines
                            .iter()
                            .map(|text| text.len().saturating_add(1))
                            .sum::<usize>()
                            .saturating_sub(1);
                        let lines = self
                            .lines
                            .iter()
                            .map(|text| pending.get(text.clone()).unwrap_or_default());
                        let reply = Reply::from_lines_in(&mut self.texts, len, line.code, lines);
                        self.start += line.end;
                        self.reset_reply();
                        return Ok(Some(reply));
                    }
                }
                Step::Failed { error, resume } => {
                    self.reset_reply();
                    match resume {
                        Resume::At(offset) => self.start += offset,
                        Resume::DiscardLineFrom(offset) => {
                            self.start += offset;
                            self.discarding = true;
                            self.discard_line();
                        }
                    }
                    return Err(error);
                }
            }
        }
    }

    /// Returns how many received bytes have not been returned in a reply yet,
    /// a partial line included.
    ///
    /// After the `220` reply to STARTTLS this must be 0: any byte already
    /// received was sent before the TLS handshake and must not be read as if
    /// it came over TLS (RFC 3207 §4).
    pub fn buffered_len(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Returns the configuration given to [`ReplyReader::new`].
    pub fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// Forgets the progress inside the current reply.
    fn reset_reply(&mut self) {
        self.framer = Framer::new();
        self.lines.clear();
    }

    /// Drops pending bytes up to and including the next LF; if there is none,
    /// drops them all and stays in discarding mode.
    fn discard_line(&mut self) {
        let pending = self.buf.get(self.start..).unwrap_or_default();
        match memchr::memchr(b'\n', pending) {
            Some(lf) => {
                self.start += lf + 1;
                self.discarding = false;
            }
            None => self.start = self.buf.len(),
        }
    }

    /// Drops consumed bytes once they are at least half of the buffer, so the
    /// copying costs O(1) per byte over time.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

impl Default for ReplyReader {
    /// Returns a reader with the default [`ParserConfig`].
    fn default() -> ReplyReader {
        ReplyReader::new(ParserConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ReplyCode, parse_reply};
    use super::*;

    type Outcome = Result<Reply, ReplyError>;

    fn reply(code: u16, lines: &[&[u8]]) -> Reply {
        Reply::new(
            ReplyCode::new(code).unwrap(),
            lines.iter().map(|l| l.to_vec()).collect(),
        )
    }

    /// Pushes each chunk, then drains every result.
    fn run(config: ParserConfig, chunks: &[&[u8]]) -> Vec<Outcome> {
        let mut reader = ReplyReader::new(config);
        let mut out = Vec::new();
        for chunk in chunks {
            reader.push(chunk);
            loop {
                match reader.next_reply() {
                    Ok(None) => break,
                    Ok(Some(r)) => out.push(Ok(r)),
                    Err(e) => out.push(Err(e)),
                }
                assert!(reader.buffered_len() <= config.max_reply_len);
            }
        }
        out
    }

    fn bytewise(config: ParserConfig, input: &[u8]) -> Vec<Outcome> {
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        run(config, &chunks)
    }

    /// Applies `parse_reply` repeatedly, stopping at the first error.
    fn stateless(config: ParserConfig, mut input: &[u8]) -> Vec<Outcome> {
        let mut out = Vec::new();
        loop {
            match parse_reply(input, &config) {
                Ok(Status::Complete((r, n))) => {
                    out.push(Ok(r.into_owned()));
                    input = &input[n..];
                }
                Ok(Status::Partial) => return out,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }

    use super::super::Status;

    const PIPELINED: &[u8] = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <b@x>: unknown\r\n\
        250-2.1.5 Ok\r\n250 2.1.5 really\r\n354 End data with <CR><LF>.<CR><LF>\r\n";

    fn pipelined_expected() -> Vec<Outcome> {
        vec![
            Ok(reply(250, &[b"2.1.0 Ok"])),
            Ok(reply(250, &[b"2.1.5 Ok"])),
            Ok(reply(550, &[b"5.1.1 <b@x>: unknown"])),
            Ok(reply(250, &[b"2.1.5 Ok", b"2.1.5 really"])),
            Ok(reply(354, &[b"End data with <CR><LF>.<CR><LF>"])),
        ]
    }

    #[test]
    fn several_replies_in_one_push() {
        let config = ParserConfig::default();
        assert_eq!(run(config, &[PIPELINED]), pipelined_expected());
        assert_eq!(stateless(config, PIPELINED), pipelined_expected());
    }

    #[test]
    fn byte_by_byte() {
        let config = ParserConfig::default();
        assert_eq!(bytewise(config, PIPELINED), pipelined_expected());
    }

    #[test]
    fn every_two_way_split() {
        let config = ParserConfig::default();
        for cut in 0..=PIPELINED.len() {
            let (a, b) = PIPELINED.split_at(cut);
            assert_eq!(run(config, &[a, b]), pipelined_expected(), "cut at {cut}");
        }
    }

    #[test]
    fn partial_reply_waits() {
        let mut reader = ReplyReader::default();
        reader.push(b"250-first\r\n250 sec");
        assert_eq!(reader.next_reply(), Ok(None));
        assert_eq!(reader.buffered_len(), 18);
        reader.push(b"ond\r");
        assert_eq!(reader.next_reply(), Ok(None));
        reader.push(b"\n");
        assert_eq!(
            reader.next_reply(),
            Ok(Some(reply(250, &[b"first", b"second"])))
        );
        assert_eq!(reader.buffered_len(), 0);
        assert_eq!(reader.next_reply(), Ok(None));
    }

    #[test]
    fn buffered_len_after_starttls_220() {
        // The NO STARTTLS injection: a plaintext reply queued behind the 220.
        let mut reader = ReplyReader::default();
        reader.push(b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n");
        let r = reader.next_reply().unwrap().unwrap();
        assert_eq!(r.code(), ReplyCode::SERVICE_READY);
        assert_eq!(reader.buffered_len(), 14);

        let mut reader = ReplyReader::default();
        reader.push(b"220 Ready\r\n2");
        reader.next_reply().unwrap().unwrap();
        assert_eq!(reader.buffered_len(), 1, "a partial line counts");

        let mut reader = ReplyReader::default();
        reader.push(b"220 Ready\r\n");
        reader.next_reply().unwrap().unwrap();
        assert_eq!(reader.buffered_len(), 0);
    }

    #[test]
    fn resync_after_bad_line() {
        let config = ParserConfig::default();
        let input: &[u8] = b"250-a\r\n550 b\r\n250 ok\r\nxyz\r\n221 bye\r\n";
        let expected = vec![
            Err(ReplyError::InconsistentCodes),
            Ok(reply(250, &[b"ok"])),
            Err(ReplyError::InvalidCode),
            Ok(reply(221, &[b"bye"])),
        ];
        assert_eq!(run(config, &[input]), expected);
        assert_eq!(bytewise(config, input), expected);
    }

    #[test]
    fn resync_after_long_line_across_pushes() {
        let config = ParserConfig::default().with_max_line_len(16);
        let long = [b'x'; 40];
        let chunks: [&[u8]; 5] = [b"250 ", &long, &long, b"tail\r\n250 ", b"next\r\n"];
        let expected = vec![Err(ReplyError::LineTooLong), Ok(reply(250, &[b"next"]))];
        assert_eq!(run(config, &chunks), expected);
        assert_eq!(bytewise(config, &chunks.concat()), expected);

        let mut reader = ReplyReader::new(config);
        reader.push(b"250 ");
        reader.push(&long);
        assert_eq!(reader.next_reply(), Err(ReplyError::LineTooLong));
        assert_eq!(reader.buffered_len(), 0);
        reader.push(&long);
        assert_eq!(reader.buffered_len(), 0, "discarded, not buffered");
        assert_eq!(reader.next_reply(), Ok(None));
        reader.push(b"end\r\n220 x\r\n");
        assert_eq!(reader.buffered_len(), 7);
        assert_eq!(reader.next_reply(), Ok(Some(reply(220, &[b"x"]))));
    }

    #[test]
    fn long_line_with_lf_right_after_the_limit() {
        let config = ParserConfig::default().with_max_line_len(6);
        // "250 ab\r\n" is 8 bytes; the LF sits past the window.
        let input: &[u8] = b"250 ab\r\n221\r\n";
        let expected = vec![Err(ReplyError::LineTooLong), Ok(reply(221, &[b""]))];
        assert_eq!(run(config, &[input]), expected);
        assert_eq!(bytewise(config, input), expected);
        // Exactly at the limit is fine.
        assert_eq!(run(config, &[b"250 \r\n"]), vec![Ok(reply(250, &[b""]))]);
    }

    #[test]
    fn endless_continuation_is_bounded() {
        let config = ParserConfig::default().with_max_lines(4);
        let mut reader = ReplyReader::new(config);
        let mut errors = 0;
        for _ in 0..1000 {
            reader.push(b"250-more\r\n");
            loop {
                match reader.next_reply() {
                    Ok(None) => break,
                    Ok(Some(r)) => panic!("unexpected reply {r:?}"),
                    Err(e) => {
                        assert_eq!(e, ReplyError::TooManyLines);
                        errors += 1;
                    }
                }
            }
            assert!(reader.buffered_len() <= 4 * 10);
        }
        assert_eq!(errors, 250);
    }

    #[test]
    fn reply_too_long_and_resync() {
        let config = ParserConfig::default().with_max_reply_len(14);
        // 7 + 7 bytes fill the budget exactly; the third line overflows.
        let input: &[u8] = b"250-a\r\n250-b\r\n250 c\r\n250 d\r\n";
        let expected = vec![Err(ReplyError::ReplyTooLong), Ok(reply(250, &[b"d"]))];
        assert_eq!(run(config, &[input]), expected);
        assert_eq!(bytewise(config, input), expected);
        assert_eq!(stateless(config, input), expected[..1].to_vec());
        assert_eq!(
            run(config, &[b"250-a\r\n250 b\r\n"]),
            vec![Ok(reply(250, &[b"a", b"b"]))],
            "exactly max_reply_len"
        );
    }

    #[test]
    fn compaction_keeps_order() {
        let mut reader = ReplyReader::default();
        let mut seen = 0;
        for i in 0..200u16 {
            let text = format!("250 n{i}\r\n251 m");
            reader.push(text.as_bytes());
            reader.push(b"\r\n");
            while let Some(r) = reader.next_reply().unwrap() {
                let expected = if seen % 2 == 0 {
                    format!("n{}", seen / 2)
                } else {
                    "m".to_owned()
                };
                assert_eq!(r.lines().collect::<Vec<_>>(), [expected.as_bytes()]);
                seen += 1;
            }
        }
        assert_eq!(seen, 400);
        assert_eq!(reader.buffered_len(), 0);
    }

    #[test]
    fn bare_lf_reader() {
        let strict = ParserConfig::default();
        let lenient = strict.with_allow_bare_lf(true);
        let input: &[u8] = b"250-a\n250 b\r\n220 c\n";
        assert_eq!(
            bytewise(lenient, input),
            vec![Ok(reply(250, &[b"a", b"b"])), Ok(reply(220, &[b"c"]))]
        );
        assert_eq!(
            bytewise(strict, input),
            vec![
                Err(ReplyError::BareLf),
                Ok(reply(250, &[b"b"])),
                Err(ReplyError::BareLf)
            ]
        );
        assert_eq!(reader_config_roundtrip(lenient), lenient);
    }

    fn reader_config_roundtrip(config: ParserConfig) -> ParserConfig {
        *ReplyReader::new(config).config()
    }
}
