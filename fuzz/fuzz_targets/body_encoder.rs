#![no_main]
//! Fuzzes `smtp_proto::body`: the streaming encoder in all three modes,
//! `message_len` and `dot_unstuff`.
//!
//! Input layout: the first byte's low 3 bits give how many chunk sizes
//! follow (0-7), each one byte (0 = an empty chunk before a one-byte one);
//! the sizes are used in turn, cycling, and the rest of the input is the
//! body. Every property is an `assert!`: the output does not depend on the
//! chunking, is CRLF-only with exactly one end of data at the very end,
//! unstuffs to the normalised body, and the sizes and flags agree.

use libfuzzer_sys::fuzz_target;
use smtp_proto::body::{BodyEncoder, dot_unstuff, message_len};

/// Lone CR and lone LF become CRLF; CRLF stays.
fn normalise(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() * 2);
    let mut iter = body.iter().peekable();
    while let Some(&b) = iter.next() {
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if iter.peek() == Some(&&b'\n') {
                    iter.next();
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
    }
    out
}

fn cut<'a>(body: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    if sizes.is_empty() {
        return vec![body];
    }
    let mut chunks = Vec::new();
    let mut rest = body;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let mut n = usize::from(size);
        if n == 0 {
            chunks.push(&rest[..0]);
            n = 1;
        }
        let (a, b) = rest.split_at(n.min(rest.len()));
        chunks.push(a);
        rest = b;
    }
    chunks
}

fn run(mut enc: BodyEncoder, chunks: &[&[u8]]) -> (Vec<u8>, BodyEncoder) {
    let mut out = Vec::new();
    for chunk in chunks {
        enc.encode(chunk, &mut out);
    }
    enc.finish(&mut out);
    // Finishing twice and encoding after the end change nothing.
    let len = out.len();
    enc.finish(&mut out);
    enc.encode(b"\r\n.\r\nQUIT\r\n", &mut out);
    assert_eq!(out.len(), len);
    (out, enc)
}

fn assert_only_crlf(out: &[u8]) {
    let mut prev = 0u8;
    for (i, &b) in out.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(out.get(i + 1), Some(&b'\n'), "lone CR");
        }
        if b == b'\n' {
            assert_eq!(prev, b'\r', "lone LF");
        }
        prev = b;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(head & 7).min(rest.len());
    let (sizes, body) = rest.split_at(n);
    let chunks = cut(body, sizes);

    // DATA.
    let (whole, _) = run(BodyEncoder::data(), &[body]);
    let (out, enc) = run(BodyEncoder::data(), &chunks);
    assert_eq!(out, whole, "output depends on chunking");
    assert_only_crlf(&out);
    let end = out.windows(5).position(|w| w == b"\r\n.\r\n");
    if body.is_empty() {
        assert_eq!(out, b".\r\n");
    } else {
        assert_eq!(
            end.map(|p| p + 5),
            Some(out.len()),
            "early or missing end of data"
        );
    }
    let mut expected = normalise(body);
    if !expected.is_empty() && !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    let plain = dot_unstuff(&out).expect("our own output must unstuff");
    assert_eq!(plain, expected);
    assert_eq!(enc.message_len(), plain.len() as u64);
    assert_eq!(message_len(body), plain.len() as u64);
    assert_eq!(enc.has_8bit(), body.iter().any(|&b| b >= 0x80));
    assert_eq!(enc.has_nul(), body.contains(&0));

    // BDAT, text.
    let (out, enc) = run(BodyEncoder::normalize(), &chunks);
    assert_eq!(out, normalise(body));
    assert_eq!(enc.message_len(), out.len() as u64);

    // BDAT, binary.
    let (out, enc) = run(BodyEncoder::raw(), &chunks);
    assert_eq!(out, body);
    assert_eq!(enc.message_len(), body.len() as u64);

    // The decoder on arbitrary input: no panic, and what it accepts
    // survives a round trip.
    if let Some(plain) = dot_unstuff(data) {
        assert_only_crlf(&plain);
        let (again, _) = run(BodyEncoder::data(), &[&plain]);
        assert_eq!(dot_unstuff(&again), Some(plain));
    }
});
