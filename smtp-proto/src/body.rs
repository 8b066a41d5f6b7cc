//! The streaming message body encoder for DATA and BDAT.
//!
//! SMTP carries a message as lines. With DATA (RFC 5321 §4.1.1.4), the end of
//! the message is a line holding a single `.`, so every line of the message
//! that starts with `.` is sent with one more `.` (§4.5.2, "transparency"),
//! and the receiver removes it. Line endings are CRLF and nothing else:
//! §2.3.8 forbids CR and LF anywhere but together. A client that lets a lone
//! LF through can be used to smuggle a second message past its own end of
//! data (`\n.\n` is an end of data for some servers and not for others), so
//! [`BodyEncoder::data`] turns *every* lone CR and lone LF into CRLF before it
//! looks for dots, for byte bodies as well as text. The only end of data on
//! the wire is the one [`BodyEncoder::finish`] writes.
//!
//! With BDAT (RFC 3030), the length of each chunk is announced, so there is
//! no dot-stuffing and no terminator: [`BodyEncoder::normalize`] only fixes
//! line endings (for text bodies) and [`BodyEncoder::raw`] passes bytes
//! through untouched (for BINARYMIME, RFC 3030 §3).
//!
//! The encoder is streaming: the body may be fed in chunks of any size, and
//! the output is the same for every way of cutting it. Clean text (CRLF
//! lines, none starting with `.`) is recognised block by block with one
//! branch-free pass that the compiler vectorises, and copied whole; only
//! blocks that need an edit are walked line by line with `memchr2`. The
//! encoder also keeps the counts that the engine needs before and after
//! sending: [`BodyEncoder::message_len`] (RFC 1870 SIZE),
//! [`BodyEncoder::has_8bit`] (RFC 6152 8BITMIME) and [`BodyEncoder::has_nul`]
//! (only RFC 3030 BINARYMIME may carry NUL).
//!
//! [`message_len`] computes the SIZE of a DATA body without encoding it, and
//! [`dot_unstuff`] is the inverse of [`BodyEncoder::data`], for tests, fuzzing
//! and server-side checks.

use memchr::{memchr, memchr2};

/// The end of data line that [`BodyEncoder::finish`] writes in DATA mode
/// (RFC 5321 §4.1.1.4). It always follows a CRLF, so the wire shows
/// `CRLF.CRLF`.
const TERMINATOR: &[u8] = b".\r\n";

/// What an encoder does to the bytes it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Normalise line endings, stuff dots, write the terminator.
    Data,
    /// Normalise line endings only.
    Normalize,
    /// Pass bytes through.
    Raw,
}

/// A streaming encoder for one message body.
///
/// Create one per message with [`BodyEncoder::data`], [`BodyEncoder::normalize`]
/// or [`BodyEncoder::raw`], call [`encode`](BodyEncoder::encode) with the body
/// in chunks of any size, then [`finish`](BodyEncoder::finish) once. The
/// output for a body does not depend on how it was cut into chunks: the
/// encoder remembers across calls whether it is at the start of a line and
/// whether the last chunk ended with a CR whose LF may be in the next one.
///
/// ```
/// use smtp_proto::body::BodyEncoder;
///
/// let mut enc = BodyEncoder::data();
/// let mut wire = Vec::new();
/// enc.encode(b".hidden\n.\nstill the body\r", &mut wire);
/// enc.encode(b"\nend", &mut wire);
/// enc.finish(&mut wire);
/// assert_eq!(wire, b"..hidden\r\n..\r\nstill the body\r\nend\r\n.\r\n");
/// ```
#[derive(Clone, Debug)]
pub struct BodyEncoder {
    mode: Mode,
    /// The next byte starts a line (true before the first byte).
    at_line_start: bool,
    /// The last byte seen was a CR whose fate (CRLF or lone CR) depends on
    /// the next byte. It is already counted in `len` as two octets.
    cr_pending: bool,
    /// [`BodyEncoder::finish`] has run.
    finished: bool,
    /// Octets of the message after normalisation, without stuffing dots and
    /// without the terminator.
    len: u64,
    has_8bit: bool,
    has_nul: bool,
    /// The last block needed no edit, so the next one tries the fast path.
    expect_clean: bool,
}

impl BodyEncoder {
    fn with_mode(mode: Mode) -> Self {
        Self {
            mode,
            at_line_start: true,
            cr_pending: false,
            finished: false,
            len: 0,
            has_8bit: false,
            has_nul: false,
            expect_clean: true,
        }
    }

    /// An encoder for the DATA command (RFC 5321 §4.1.1.4).
    ///
    /// Every lone CR and every lone LF becomes CRLF (§2.3.8), a `.` at the
    /// start of any line, the very first byte of the body included, gets one
    /// more `.` (§4.5.2), and [`finish`](Self::finish) writes the end of data
    /// line. After it, the server sees exactly the normalised body.
    pub fn data() -> Self {
        Self::with_mode(Mode::Data)
    }

    /// An encoder for text bodies sent with BDAT (RFC 3030 §2).
    ///
    /// Line endings are normalised as in [`data`](Self::data), because a lone
    /// CR or LF is as invalid in a BDAT text message as in DATA (RFC 5321
    /// §2.3.8), but BDAT counts octets instead of looking for an end of data
    /// line, so there is no dot-stuffing and no terminator.
    pub fn normalize() -> Self {
        Self::with_mode(Mode::Normalize)
    }

    /// An encoder that passes bytes through untouched, for BDAT with
    /// `BODY=BINARYMIME` (RFC 3030 §3), where the body is binary data whose
    /// octets must arrive exactly as given. It still tracks
    /// [`message_len`](Self::message_len), [`has_8bit`](Self::has_8bit) and
    /// [`has_nul`](Self::has_nul).
    pub fn raw() -> Self {
        Self::with_mode(Mode::Raw)
    }

    /// Encodes the next `chunk` of the body and appends the result to `out`.
    ///
    /// Chunks may have any size, including zero and one byte; a CR at the end
    /// of one chunk and an LF at the start of the next make one CRLF. The CR
    /// is held back until the next call (or [`finish`](Self::finish)) shows
    /// which it is, so `out` may lag the input by that one byte.
    ///
    /// After [`finish`](Self::finish) this does nothing: in DATA mode the end
    /// of data has been written, and anything after it would reach the server
    /// as commands.
    pub fn encode(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.finished || chunk.is_empty() {
            return;
        }
        match self.mode {
            Mode::Raw => {
                self.note_flags(chunk);
                out.extend_from_slice(chunk);
                self.len = self.len.saturating_add(len_u64(chunk.len()));
            }
            Mode::Data => self.encode_text::<true>(chunk, out),
            Mode::Normalize => self.encode_text::<false>(chunk, out),
        }
    }

    /// Records 8-bit and NUL octets in `bytes`, skipping the scans whose
    /// answer is already known.
    fn note_flags(&mut self, bytes: &[u8]) {
        if !self.has_8bit && !bytes.is_ascii() {
            self.has_8bit = true;
        }
        if !self.has_nul && memchr(0, bytes).is_some() {
            self.has_nul = true;
        }
    }

    /// Line-ending normalisation and, when `STUFF`, dot-stuffing.
    ///
    /// The chunk is cut into blocks of [`BLOCK`] octets (never between a CR
    /// and the byte after it). A block that needs no edit, which is every
    /// block of clean CRLF text, is recognised by one branch-free pass
    /// ([`scan_block`]) and copied whole. A block that needs edits goes
    /// through [`encode_lines`](Self::encode_lines), which jumps from line end
    /// to line end with `memchr2`. After a block that needed edits the next
    /// one goes straight to the line loop, so text with bare LF line endings
    /// does not pay for both.
    fn encode_text<const STUFF: bool>(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        // Worst case is twice the input ("\n\n..." or "\n.\n."); reserve for
        // the common case and let `Vec` grow for the rest.
        out.reserve(chunk.len().saturating_add(4));
        let mut rest = chunk;
        while !rest.is_empty() {
            let mut take = rest.len().min(BLOCK);
            if take < rest.len() && take.checked_sub(1).and_then(|i| rest.get(i)) == Some(&b'\r') {
                // Keep a CR and the byte after it in the same block.
                take = take.saturating_add(1);
            }
            let (block, tail) = rest.split_at_checked(take).unwrap_or((rest, &[]));
            if !(self.expect_clean && self.copy_if_clean::<STUFF>(block, out)) {
                self.expect_clean = !self.encode_lines::<STUFF>(block, out);
            }
            rest = tail;
        }
    }

    /// The fast path: copies `block` whole and returns true if encoding would
    /// leave it unchanged; returns false, having written nothing, otherwise.
    fn copy_if_clean<const STUFF: bool>(&mut self, block: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(&last) = block.last() else {
            return true;
        };
        // A held-back CR must be written first, and a block ending in CR
        // must hold it back: both are the line loop's job.
        if self.cr_pending || last == b'\r' {
            return false;
        }
        // The byte before the block, as far as the checks care: an LF when
        // at the start of a line (so a leading '.' is caught, and so is a
        // leading LF, which would be a lone one), else a harmless byte.
        let prev = if self.at_line_start { b'\n' } else { b'x' };
        let scan = scan_block::<STUFF>(prev, block);
        if scan.needs_edit {
            return false;
        }
        if scan.maybe_8bit_or_nul {
            self.note_flags(block);
        }
        out.extend_from_slice(block);
        self.len = self.len.saturating_add(len_u64(block.len()));
        self.at_line_start = last == b'\n';
        true
    }

    /// The line loop. Returns whether it changed anything (so that the next
    /// block can skip the fast path's scan when the text is not clean).
    ///
    /// Clean lines are not copied one by one: the bytes from `start` on are
    /// written only when an edit is needed.
    fn encode_lines<const STUFF: bool>(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> bool {
        self.note_flags(chunk);
        let mut edited = false;
        // Normalisation adds one octet for each lone CR or LF.
        let mut added: u64 = 0;
        // Input octets already counted by the previous call.
        let mut counted_before = 0usize;
        let mut pos = 0usize;
        let mut start = 0usize;

        if self.cr_pending {
            // The CR was counted as a CRLF when it arrived; write that CRLF
            // now and swallow the LF if it was one.
            self.cr_pending = false;
            edited = true;
            out.extend_from_slice(b"\r\n");
            if chunk.first() == Some(&b'\n') {
                pos = 1;
                // This LF is part of the CRLF already counted.
                counted_before = 1;
            }
            start = pos;
            self.at_line_start = true;
        }

        loop {
            let rest = chunk.get(pos..).unwrap_or_default();
            let Some(&first) = rest.first() else {
                break;
            };
            if STUFF && self.at_line_start && first == b'.' {
                // RFC 5321 §4.5.2: one more dot. The original dot is written
                // with the run that follows.
                out.extend_from_slice(chunk.get(start..pos).unwrap_or_default());
                out.push(b'.');
                start = pos;
                edited = true;
            }
            let Some(offset) = memchr2(b'\r', b'\n', rest) else {
                self.at_line_start = false;
                break;
            };
            let end = pos.saturating_add(offset);
            self.at_line_start = true;
            if chunk.get(end) == Some(&b'\n') {
                // Lone LF: write the line, then CRLF instead of the LF.
                out.extend_from_slice(chunk.get(start..end).unwrap_or_default());
                out.extend_from_slice(b"\r\n");
                added = added.saturating_add(1);
                edited = true;
                pos = end.saturating_add(1);
                start = pos;
                continue;
            }
            // A CR: look at the byte after it.
            let after = end.saturating_add(1);
            match chunk.get(after) {
                Some(b'\n') => {
                    // A proper CRLF: nothing to change.
                    pos = after.saturating_add(1);
                }
                Some(_) => {
                    // Lone CR: write the line and its CR, then the missing LF.
                    out.extend_from_slice(chunk.get(start..after).unwrap_or_default());
                    out.push(b'\n');
                    added = added.saturating_add(1);
                    edited = true;
                    pos = after;
                    start = pos;
                }
                None => {
                    // CR at the end of the chunk: hold it back until the next
                    // byte is known. Either way it becomes two octets.
                    out.extend_from_slice(chunk.get(start..end).unwrap_or_default());
                    added = added.saturating_add(1);
                    edited = true;
                    self.cr_pending = true;
                    self.at_line_start = false;
                    pos = after;
                    start = pos;
                }
            }
        }
        out.extend_from_slice(chunk.get(start..).unwrap_or_default());
        self.len = self
            .len
            .saturating_add(len_u64(chunk.len().saturating_sub(counted_before)))
            .saturating_add(added);
        edited
    }

    /// Ends the body.
    ///
    /// - [`data`](Self::data): a held-back CR is written as CRLF, a last line
    ///   without a line ending gets a CRLF (RFC 5321 §4.1.1.4: the CRLF
    ///   before the `.` belongs to the message), then `.` CRLF is written. A
    ///   body that already ends in CRLF gets no extra empty line, and an
    ///   empty body gives just `.` CRLF.
    /// - [`normalize`](Self::normalize): a held-back CR is written as CRLF;
    ///   nothing else.
    /// - [`raw`](Self::raw): nothing.
    ///
    /// Calling it again does nothing, so the terminator is written once.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.finished = true;
        if self.cr_pending {
            // Already counted as two octets when the CR arrived.
            self.cr_pending = false;
            self.at_line_start = true;
            out.extend_from_slice(b"\r\n");
        }
        if self.mode == Mode::Data {
            if !self.at_line_start {
                out.extend_from_slice(b"\r\n");
                self.len = self.len.saturating_add(2);
                self.at_line_start = true;
            }
            out.extend_from_slice(TERMINATOR);
        }
    }

    /// Octets of the message as the server will store it, so far.
    ///
    /// This is the size RFC 1870 §3 asks a client to declare with `SIZE=`:
    /// the body after line-ending normalisation, without the dots added by
    /// stuffing and without the end of data line. A CR held back at the end
    /// of a chunk already counts as the two octets it will become. In DATA
    /// mode, once [`finish`](Self::finish) has run, the CRLF it adds to an
    /// unterminated last line is included. The count saturates at
    /// `u64::MAX`.
    pub fn message_len(&self) -> u64 {
        self.len
    }

    /// Whether any octet ≥ 0x80 has been seen.
    ///
    /// Such a body needs `BODY=8BITMIME` (RFC 6152) or BINARYMIME; without
    /// either extension the engine refuses to send it.
    pub fn has_8bit(&self) -> bool {
        self.has_8bit
    }

    /// Whether a NUL octet has been seen.
    ///
    /// RFC 5321 §4.5.2 and RFC 6152 do not allow NUL in DATA or 8BITMIME
    /// bodies; only BINARYMIME (RFC 3030 §3) may carry it.
    pub fn has_nul(&self) -> bool {
        self.has_nul
    }
}

/// `usize` to `u64` without a cast that clippy would question; saturates on
/// the (hypothetical) platform where it does not fit.
fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Octets per block for the fast path: small enough to stay in the L1
/// cache between the scan and the copy, large enough to make the per-block
/// work negligible.
const BLOCK: usize = 8 * 1024;

/// Lanes of [`scan_block`]'s accumulators; a multiple of every SIMD width
/// the compiler may pick, so the inner loop vectorises.
const LANES: usize = 32;

/// What [`scan_block`] found.
#[derive(Clone, Copy, Debug)]
struct Scan {
    /// Some byte pair needs an edit: a CR not followed by LF, an LF not
    /// preceded by CR or (when stuffing) an LF followed by '.'.
    needs_edit: bool,
    /// Some byte is ≥ 0x80 or NUL (the precise answer is left to
    /// [`BodyEncoder::note_flags`], as both are rare in text).
    maybe_8bit_or_nul: bool,
}

/// Whether the pair of adjacent bytes `(p, c)` needs an edit: 1 if so, else
/// 0. Written with plain comparisons so that the compiler turns a loop of
/// them into SIMD compares.
#[inline(always)]
fn pair_needs_edit<const STUFF: bool>(p: u8, c: u8) -> u8 {
    let unpaired = u8::from(p == b'\r') ^ u8::from(c == b'\n');
    if STUFF {
        unpaired | (u8::from(p == b'\n') & u8::from(c == b'.'))
    } else {
        unpaired
    }
}

/// `c | (c - 1)` has its top bit set exactly when `c` is 0 or ≥ 0x80.
#[inline(always)]
fn high_or_nul(c: u8) -> u8 {
    c | c.wrapping_sub(1)
}

/// Looks at every pair of adjacent bytes of `prev` followed by `block`,
/// without branches, so that clean text is recognised at SIMD speed.
///
/// Kept out of line: inlined into [`BodyEncoder::encode`], the compiler
/// spills the accumulators to the stack and the loop runs at half speed.
#[inline(never)]
fn scan_block<const STUFF: bool>(prev: u8, block: &[u8]) -> Scan {
    let Some((&first, rest)) = block.split_first() else {
        return Scan {
            needs_edit: false,
            maybe_8bit_or_nul: false,
        };
    };
    let mut edit = pair_needs_edit::<STUFF>(prev, first);
    let mut high = high_or_nul(first);
    // `before[i]` is the byte before `rest[i]`.
    let before = block.get(..rest.len()).unwrap_or_default();
    let (before_lanes, before_tail) = before.as_chunks::<LANES>();
    let (rest_lanes, rest_tail) = rest.as_chunks::<LANES>();
    let mut edit_acc = [0u8; LANES];
    let mut high_acc = [0u8; LANES];
    for (ps, cs) in before_lanes.iter().zip(rest_lanes) {
        let lanes = edit_acc.iter_mut().zip(high_acc.iter_mut());
        for ((e, h), (&p, &c)) in lanes.zip(ps.iter().zip(cs)) {
            *e |= pair_needs_edit::<STUFF>(p, c);
            *h |= high_or_nul(c);
        }
    }
    for (&p, &c) in before_tail.iter().zip(rest_tail) {
        edit |= pair_needs_edit::<STUFF>(p, c);
        high |= high_or_nul(c);
    }
    let edit = edit_acc.iter().fold(edit, |a, &b| a | b);
    let high = high_acc.iter().fold(high, |a, &b| a | b);
    Scan {
        needs_edit: edit != 0,
        maybe_8bit_or_nul: high & 0x80 != 0,
    }
}

/// The size of `body` once [`BodyEncoder::data`] has normalised it, without
/// encoding it.
///
/// This is the value to declare with `SIZE=` (RFC 1870 §3) for a DATA body:
/// every lone CR or LF counts as the CRLF it becomes, a non-empty body that
/// does not end with a line ending counts the CRLF that
/// [`BodyEncoder::finish`] adds, and neither stuffing dots nor the end of data
/// line count. It equals [`BodyEncoder::message_len`] after `finish` on a
/// [`BodyEncoder::data`] encoder fed the same bytes.
pub fn message_len(body: &[u8]) -> u64 {
    let mut len = len_u64(body.len());
    let mut pos = 0usize;
    // Whether the last byte looked at ended a line.
    let mut line_end = false;
    while let Some(rest) = body.get(pos..) {
        let Some(offset) = memchr2(b'\r', b'\n', rest) else {
            if !rest.is_empty() {
                line_end = false;
            }
            break;
        };
        let end = pos.saturating_add(offset);
        line_end = true;
        let after = end.saturating_add(1);
        if body.get(end) == Some(&b'\r') && body.get(after) == Some(&b'\n') {
            pos = after.saturating_add(1);
        } else {
            // A lone CR or a lone LF: one more octet.
            len = len.saturating_add(1);
            pos = after;
        }
    }
    if !body.is_empty() && !line_end {
        len = len.saturating_add(2);
    }
    len
}

/// Decodes a DATA stream as [`BodyEncoder::data`] writes it: the inverse of
/// dot-stuffing (RFC 5321 §4.5.2).
///
/// `wire` must be a sequence of CRLF-terminated lines whose last line is the
/// end of data line `.`. The result is the message up to and including the
/// CRLF before that line (which belongs to the message, §4.1.1.4), with the
/// first `.` of every line that starts with one removed. An empty message is
/// just `.` CRLF.
///
/// Returns `None` when the end of data line is missing, when anything
/// follows it, or when a lone CR or LF appears (§2.3.8; our encoder never
/// writes one, and they are how a second end of data gets smuggled).
///
/// This is for tests, fuzzing and server-side checks: a client never needs
/// it.
pub fn dot_unstuff(wire: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(wire.len());
    let mut rest = wire;
    loop {
        let lf = memchr(b'\n', rest)?;
        let (line_cr, tail) = rest.split_at_checked(lf)?;
        let tail = tail.get(1..)?;
        // The line must end in CRLF and hold no other CR.
        let line = line_cr.strip_suffix(b"\r")?;
        if memchr(b'\r', line).is_some() {
            return None;
        }
        if line == b"." {
            return tail.is_empty().then_some(out);
        }
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_with(mut enc: BodyEncoder, chunks: &[&[u8]]) -> (Vec<u8>, BodyEncoder) {
        let mut out = Vec::new();
        for chunk in chunks {
            enc.encode(chunk, &mut out);
        }
        enc.finish(&mut out);
        (out, enc)
    }

    fn data(body: &[u8]) -> Vec<u8> {
        encode_with(BodyEncoder::data(), &[body]).0
    }

    /// Encodes `body` whole, byte by byte and cut at every position; all must
    /// agree. Returns the output.
    fn data_all_chunkings(body: &[u8]) -> Vec<u8> {
        let whole = data(body);
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(
            encode_with(BodyEncoder::data(), &bytes).0,
            whole,
            "byte by byte: {body:?}"
        );
        for cut in 0..=body.len() {
            let (a, b) = body.split_at(cut);
            assert_eq!(
                encode_with(BodyEncoder::data(), &[a, b]).0,
                whole,
                "cut at {cut}: {body:?}"
            );
        }
        whole
    }

    /// (body, expected DATA wire bytes).
    const DATA_TABLE: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a\n", b"a\r\n.\r\n"),
        (b"a\r", b"a\r\n.\r\n"),
        (b"\r\n", b"\r\n.\r\n"),
        (b"\n", b"\r\n.\r\n"),
        (b"\r", b"\r\n.\r\n"),
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),
        (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
        (b"a\rb\r", b"a\r\nb\r\n.\r\n"),
        (b"a\r\r\nb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"a\n\rb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"\r\r", b"\r\n\r\n.\r\n"),
        (b"\n\n", b"\r\n\r\n.\r\n"),
        (b"\n\r", b"\r\n\r\n.\r\n"),
        // Dots.
        (b".", b"..\r\n.\r\n"),
        (b"..", b"...\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b".a", b"..a\r\n.\r\n"),
        (b"a.", b"a.\r\n.\r\n"),
        (b"a\r\n.b", b"a\r\n..b\r\n.\r\n"),
        (b"a\n.b", b"a\r\n..b\r\n.\r\n"),
        (b"a\r.b", b"a\r\n..b\r\n.\r\n"),
        (b"a. .\r\n", b"a. .\r\n.\r\n"),
        (
            b"Subject: x\r\n\r\nbody\r\n",
            b"Subject: x\r\n\r\nbody\r\n.\r\n",
        ),
    ];

    #[test]
    fn data_table() {
        for (body, wire) in DATA_TABLE {
            assert_eq!(
                data_all_chunkings(body),
                *wire,
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn data_table_round_trips_and_sizes() {
        for (body, wire) in DATA_TABLE {
            let (out, enc) = encode_with(BodyEncoder::data(), &[body]);
            let plain = dot_unstuff(&out).unwrap();
            assert_eq!(enc.message_len(), plain.len() as u64, "{body:?}");
            assert_eq!(message_len(body), plain.len() as u64, "{body:?}");
            assert_eq!(out, *wire);
        }
    }

    /// Every way we know to end DATA early, or to make two parsers disagree
    /// about where it ends (RFC 5321 §4.1.1.4, "SMTP smuggling").
    #[test]
    fn hostile_smuggling_sequences() {
        let table: &[(&[u8], &[u8])] = &[
            (
                b"a\n.\nMAIL FROM:<x>\n",
                b"a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n",
            ),
            (b"a\r.\r\nRSET\r\n", b"a\r\n..\r\nRSET\r\n.\r\n"),
            (b"a\r\n.\rQUIT\r\n", b"a\r\n..\r\nQUIT\r\n.\r\n"),
            (b"a\r\n.\r", b"a\r\n..\r\n.\r\n"),
            (b".\r\nQUIT\r\n", b"..\r\nQUIT\r\n.\r\n"),
            (b"\r\n.\r\n", b"\r\n..\r\n.\r\n"),
            (b"\n.\n", b"\r\n..\r\n.\r\n"),
            (b"\r.\r", b"\r\n..\r\n.\r\n"),
            (b"\n.\r\n", b"\r\n..\r\n.\r\n"),
            (b"\r.\n", b"\r\n..\r\n.\r\n"),
            (b"x\r\n.\r\n.\r\n", b"x\r\n..\r\n..\r\n.\r\n"),
            (b".\n.\n.\n", b"..\r\n..\r\n..\r\n.\r\n"),
        ];
        for (body, wire) in table {
            let out = data_all_chunkings(body);
            assert_eq!(out, *wire, "body {:?}", String::from_utf8_lossy(body));
            // Exactly one end of data, at the very end.
            let first_end = memchr::memmem::find(&out, b"\r\n.\r\n");
            assert!(
                first_end.is_none_or(|p| p + 5 == out.len()),
                "early end of data in {out:?}"
            );
            assert!(dot_unstuff(&out).is_some());
        }
    }

    #[test]
    fn hostile_long_runs_of_dots() {
        let dots = vec![b'.'; 10_000];
        let out = data_all_chunkings(&dots[..100]);
        assert_eq!(out.len(), 101 + 2 + 3);
        let out = data(&dots);
        // Only the first dot of the line is doubled.
        assert_eq!(&out[..10_001], &[b'.'; 10_001][..]);
        assert_eq!(&out[10_001..], b"\r\n.\r\n");

        // A dot on every line: each is doubled, whatever the line ending.
        let body = b".\n.\r.\r\n".repeat(1000);
        let out = data(&body);
        assert_eq!(out, [b"..\r\n".repeat(3000), b".\r\n".to_vec()].concat());
        assert_eq!(dot_unstuff(&out).unwrap(), b".\r\n".repeat(3000));
    }

    #[test]
    fn hostile_nul_and_8bit() {
        let (out, enc) = encode_with(BodyEncoder::data(), &[b"a\0b\xff\n"]);
        assert_eq!(out, b"a\0b\xff\r\n.\r\n");
        assert!(enc.has_nul());
        assert!(enc.has_8bit());

        let (_, enc) = encode_with(BodyEncoder::data(), &[b"plain ascii\r\n\x7f"]);
        assert!(!enc.has_nul());
        assert!(!enc.has_8bit());

        // Seen in a later chunk, then remembered.
        let (_, enc) = encode_with(BodyEncoder::normalize(), &[b"abc", b"\x80", b"def"]);
        assert!(enc.has_8bit());
        assert!(!enc.has_nul());
        let (_, enc) = encode_with(BodyEncoder::raw(), &[b"abc", b"\0", b"def"]);
        assert!(enc.has_nul());
        assert!(!enc.has_8bit());
    }

    #[test]
    fn cr_split_across_chunks() {
        let (out, enc) = encode_with(BodyEncoder::data(), &[b"a\r", b"\nb"]);
        assert_eq!(out, b"a\r\nb\r\n.\r\n");
        assert_eq!(enc.message_len(), 6);

        let (out, _) = encode_with(BodyEncoder::data(), &[b"a\r", b"", b"\r", b"\n.b"]);
        assert_eq!(out, b"a\r\n\r\n..b\r\n.\r\n");

        let (out, _) = encode_with(BodyEncoder::data(), &[b"a\r", b".b"]);
        assert_eq!(out, b"a\r\n..b\r\n.\r\n");

        // The held-back CR is not written until its fate is known.
        let mut enc = BodyEncoder::data();
        let mut out = Vec::new();
        enc.encode(b"abc\r", &mut out);
        assert_eq!(out, b"abc");
        assert_eq!(enc.message_len(), 5);
        enc.encode(b"\n", &mut out);
        assert_eq!(out, b"abc\r\n");
        assert_eq!(enc.message_len(), 5);
    }

    #[test]
    fn finish_is_idempotent_and_closes_the_body() {
        let mut enc = BodyEncoder::data();
        let mut out = Vec::new();
        enc.encode(b"hello", &mut out);
        enc.finish(&mut out);
        enc.finish(&mut out);
        enc.encode(b"\r\n.\r\nMAIL FROM:<evil>\r\n", &mut out);
        enc.finish(&mut out);
        assert_eq!(out, b"hello\r\n.\r\n");
        assert_eq!(enc.message_len(), 7);
    }

    #[test]
    fn normalize_mode() {
        let table: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"a", b"a"),
            (b".a\n.\n", b".a\r\n.\r\n"),
            (b"a\rb\r", b"a\r\nb\r\n"),
            (b"a\r\r\n", b"a\r\n\r\n"),
            (b"\n\r", b"\r\n\r\n"),
        ];
        for (body, want) in table {
            let (out, enc) = encode_with(BodyEncoder::normalize(), &[body]);
            assert_eq!(out, *want, "{body:?}");
            assert_eq!(enc.message_len(), want.len() as u64);
            let bytes: Vec<&[u8]> = body.chunks(1).collect();
            assert_eq!(encode_with(BodyEncoder::normalize(), &bytes).0, *want);
        }
    }

    #[test]
    fn raw_mode_is_untouched() {
        let body: &[u8] = b".\n\r\0\xff\r\n.\r\n.";
        let (out, enc) = encode_with(BodyEncoder::raw(), &[&body[..3], &body[3..]]);
        assert_eq!(out, body);
        assert_eq!(enc.message_len(), body.len() as u64);
        assert!(enc.has_nul() && enc.has_8bit());
    }

    #[test]
    fn message_len_table() {
        let table: &[(&[u8], u64)] = &[
            (b"", 0),
            (b"a", 3),
            (b"a\r\n", 3),
            (b"a\n", 3),
            (b"a\r", 3),
            (b"\r\r\n", 4),
            (b".", 3),
            (b"..\r\n", 4),
            (b"a\nb", 6),
        ];
        for (body, n) in table {
            assert_eq!(message_len(body), *n, "{body:?}");
            let (_, enc) = encode_with(BodyEncoder::data(), &[body]);
            assert_eq!(enc.message_len(), *n, "{body:?}");
        }
    }

    #[test]
    fn dot_unstuff_table() {
        let good: &[(&[u8], &[u8])] = &[
            (b".\r\n", b""),
            (b"\r\n.\r\n", b"\r\n"),
            (b"a\r\n.\r\n", b"a\r\n"),
            (b"..\r\n.\r\n", b".\r\n"),
            (b".a\r\n.\r\n", b"a\r\n"),
            (b"...\r\n.\r\n", b"..\r\n"),
        ];
        for (wire, body) in good {
            assert_eq!(dot_unstuff(wire).as_deref(), Some(*body), "{wire:?}");
        }
        let bad: &[&[u8]] = &[
            b"",
            b"a",
            b"a\r\n",
            b".",
            b".\r",
            b".\n",
            b"a\n.\r\n",
            b"a\r.\r\n",
            b"\r\n.\r\nx",
            b".\r\n.\r\n",
            b"a\r\n.\r\n\r\n",
            b"a\rb\r\n.\r\n",
        ];
        for wire in bad {
            assert_eq!(dot_unstuff(wire), None, "{wire:?}");
        }
    }

    /// The naive model: byte by byte, no blocks, no state across calls.
    fn model_data(body: &[u8]) -> Vec<u8> {
        let mut text = Vec::new();
        let mut i = 0;
        while i < body.len() {
            match body[i] {
                b'\r' if body.get(i + 1) == Some(&b'\n') => {
                    text.extend_from_slice(b"\r\n");
                    i += 1;
                }
                b'\r' | b'\n' => text.extend_from_slice(b"\r\n"),
                b => text.push(b),
            }
            i += 1;
        }
        if !text.is_empty() && !text.ends_with(b"\r\n") {
            text.extend_from_slice(b"\r\n");
        }
        let mut out = Vec::new();
        for line in text.split_inclusive(|&b| b == b'\n') {
            if line[0] == b'.' {
                out.push(b'.');
            }
            out.extend_from_slice(line);
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    /// Edits on both sides of the fast path's block boundaries, in one
    /// chunk and in chunks that cut across blocks.
    #[test]
    fn edits_around_block_boundaries() {
        let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n";
        let clean = line.repeat(3 * BLOCK / line.len());
        let edits: &[&[u8]] = &[b"\r", b"\n", b".", b"\n.", b"\r\n.", b"\r.", b"\0", b"\xff"];
        for at in [
            0,
            1,
            BLOCK - 2,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            2 * BLOCK - 1,
            clean.len() - 1,
        ] {
            for edit in edits {
                let mut body = clean.clone();
                let end = (at + edit.len()).min(body.len());
                body.splice(at..end, edit.iter().copied());
                let want = model_data(&body);
                for size in [body.len(), BLOCK - 1, BLOCK + 1, 1000] {
                    let chunks: Vec<&[u8]> = body.chunks(size).collect();
                    let (out, enc) = encode_with(BodyEncoder::data(), &chunks);
                    assert!(out == want, "edit {edit:?} at {at}, chunks of {size}");
                    assert_eq!(enc.message_len(), message_len(&body));
                    assert_eq!(enc.has_nul(), body.contains(&0));
                    assert_eq!(enc.has_8bit(), !body.is_ascii());
                }
            }
        }
    }

    /// After a block that needed edits the encoder uses the line loop, and
    /// returns to the fast path after a clean one; output is right either way.
    #[test]
    fn switching_between_paths() {
        let dirty = b"bare\nlines\n".repeat(BLOCK / 4);
        let clean = b"crlf line\r\n".repeat(BLOCK / 4);
        let body = [&dirty[..], &clean, &dirty, &clean, b".end"].concat();
        let (out, _) = encode_with(BodyEncoder::data(), &[&body]);
        assert_eq!(out, model_data(&body));
    }

    #[test]
    fn clean_text_is_copied_verbatim() {
        let line = [b"x".repeat(76), b"\r\n".to_vec()].concat();
        let body = line.repeat(1000);
        let mut enc = BodyEncoder::data();
        let mut out = Vec::new();
        enc.encode(&body, &mut out);
        assert_eq!(out, body);
        assert_eq!(enc.message_len(), body.len() as u64);
    }
}
