//! `ReplyReader` fed in chunks chosen by the fuzzer, byte by byte and whole
//! must give the same sequence of replies and errors, and that sequence
//! must start with what repeated `parse_reply` calls give.
//!
//! Input layout: `[flags] [count] [count chunk sizes] [stream...]`. The flags
//! choose bare LF and tiny limits; the chunk sizes are used in turn (a 0
//! pushes an empty slice and then one byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::reply::{ParserConfig, Reply, ReplyError, ReplyReader, Status, parse_reply};

type Outcome = Result<Reply, ReplyError>;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&count, rest)) = rest.split_first() else {
        return;
    };
    let (sizes, stream) = rest.split_at(usize::from(count % 16).min(rest.len()));

    let mut config = ParserConfig::default().with_allow_bare_lf(flags & 1 != 0);
    if flags & 2 != 0 {
        config = config
            .with_max_line_len(usize::from(flags >> 2 & 0x0f) * 3)
            .with_max_lines(usize::from(flags >> 6) + 1)
            .with_max_reply_len(usize::from(count >> 4) * 8);
    }

    let whole = run(config, stream, &[]);
    let chunked = run(config, stream, sizes);
    assert_eq!(chunked, whole, "chunked and whole input disagree");
    let bytewise = run(config, stream, &[1]);
    assert_eq!(bytewise, whole, "byte-by-byte and whole input disagree");

    let stateless = run_stateless(config, stream);
    assert!(whole.len() >= stateless.len());
    assert_eq!(
        &whole[..stateless.len()],
        &stateless[..],
        "reader and parse_reply disagree"
    );
    if stateless.last().is_none_or(Result::is_ok) {
        assert_eq!(whole.len(), stateless.len());
    }
});

/// Pushes `stream` in chunks of the given sizes (all of it at once when
/// `sizes` is empty) and drains the reader after each push.
fn run(config: ParserConfig, mut stream: &[u8], sizes: &[u8]) -> Vec<Outcome> {
    let mut reader = ReplyReader::new(config);
    let mut out = Vec::new();
    let mut turn = 0;
    while !stream.is_empty() {
        let size = match sizes.get(turn % sizes.len().max(1)) {
            None => stream.len(),
            Some(0) => {
                reader.push(&[]);
                1
            }
            Some(&size) => usize::from(size),
        };
        turn += 1;
        let (chunk, rest) = stream.split_at(size.min(stream.len()));
        stream = rest;
        reader.push(chunk);
        assert!(reader.buffered_len() <= config.max_reply_len + chunk.len());
        loop {
            match reader.next_reply() {
                Ok(None) => break,
                Ok(Some(reply)) => out.push(Ok(reply)),
                Err(error) => out.push(Err(error)),
            }
        }
        assert!(reader.buffered_len() <= config.max_reply_len);
    }
    out
}

/// Calls `parse_reply` until it needs more input or fails.
fn run_stateless(config: ParserConfig, mut stream: &[u8]) -> Vec<Outcome> {
    let mut out = Vec::new();
    loop {
        match parse_reply(stream, &config) {
            Ok(Status::Complete((reply, n))) => {
                out.push(Ok(reply.into_owned()));
                stream = &stream[n..];
            }
            Ok(Status::Partial) => return out,
            Err(error) => {
                out.push(Err(error));
                return out;
            }
        }
    }
}
