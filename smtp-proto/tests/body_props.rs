#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Property tests for the body encoder (`smtp_proto::body`).
//!
//! The encoder is checked against a deliberately naive byte-by-byte model of
//! RFC 5321 §2.3.8 / §4.5.2 / §4.1.1.4, and against its own inverse
//! [`dot_unstuff`], for every way of cutting the input into chunks. Bodies
//! are drawn from an alphabet rich in CR, LF, '.', NUL and 8-bit bytes, and
//! some are long enough to cross the encoder's internal block size.

use proptest::prelude::*;
use smtp_proto::body::{BodyEncoder, dot_unstuff, message_len};

/// Lone CR and lone LF become CRLF; CRLF stays.
fn normalise(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// `normalise`, plus the CRLF that DATA adds to an unterminated last line.
fn normalise_for_data(body: &[u8]) -> Vec<u8> {
    let mut out = normalise(body);
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The naive model of DATA encoding: normalise, stuff line by line, end.
fn model_data(body: &[u8]) -> Vec<u8> {
    let text = normalise_for_data(body);
    let mut out = Vec::new();
    for line in text.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Cuts `body` at the given sizes, cycled. A size of 0 adds an empty chunk
/// before a one-byte one (so that cutting always makes progress).
fn cut<'a>(body: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = body;
    let mut k = 0;
    while !rest.is_empty() {
        let mut n = sizes
            .get(k % sizes.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .min(rest.len());
        if n == 0 {
            chunks.push(&rest[..0]);
            n = 1;
        }
        let (a, b) = rest.split_at(n);
        chunks.push(a);
        rest = b;
        k += 1;
    }
    chunks
}

fn run(mut enc: BodyEncoder, chunks: &[&[u8]]) -> (Vec<u8>, BodyEncoder) {
    let mut out = Vec::new();
    for chunk in chunks {
        enc.encode(chunk, &mut out);
    }
    enc.finish(&mut out);
    (out, enc)
}

/// No CR without LF after it, no LF without CR before it.
fn assert_only_crlf(out: &[u8]) {
    for (i, &b) in out.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(out.get(i + 1), Some(&b'\n'), "lone CR at {i}");
        }
        if b == b'\n' {
            assert!(i > 0 && out[i - 1] == b'\r', "lone LF at {i}");
        }
    }
}

/// Bytes that matter to the encoder, often; anything else, sometimes.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => Just(b'a'),
        3 => Just(b'\r'),
        3 => Just(b'\n'),
        3 => Just(b'.'),
        1 => Just(0u8),
        1 => Just(0xC3u8),
        1 => any::<u8>(),
    ]
}

/// Short hostile bodies, and long mostly clean ones (CRLF lines with the
/// odd special byte) that cross the encoder's 8 KiB blocks.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(byte(), 0..200),
        1 => (
            proptest::collection::vec(byte(), 0..40),
            2_000usize..2_200,
            proptest::collection::vec((0usize..160_000, byte()), 0..6),
        )
            .prop_map(|(head, lines, edits)| {
                let mut body = head;
                for i in 0..lines {
                    body.extend_from_slice(if i % 7 == 0 { b"short" } else { b"a line of text" });
                    body.extend_from_slice(b"\r\n");
                }
                let len = body.len();
                for (at, b) in edits {
                    body[at % len] = b;
                }
                body
            }),
    ]
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(vec![1]),
        Just(vec![usize::MAX]),
        proptest::collection::vec(0usize..40, 1..8),
        proptest::collection::vec(1usize..20_000, 1..4),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn data_matches_model_for_any_chunking(body in body(), sizes in sizes()) {
        let whole = run(BodyEncoder::data(), &[&body]).0;
        prop_assert_eq!(&whole, &model_data(&body));
        let (chunked, _) = run(BodyEncoder::data(), &cut(&body, &sizes));
        prop_assert_eq!(&chunked, &whole);
    }

    #[test]
    fn data_round_trips_through_dot_unstuff(body in body(), sizes in sizes()) {
        let (out, enc) = run(BodyEncoder::data(), &cut(&body, &sizes));
        let plain = dot_unstuff(&out);
        prop_assert_eq!(plain.as_deref(), Some(&normalise_for_data(&body)[..]));
        let plain = plain.unwrap();
        prop_assert_eq!(enc.message_len(), plain.len() as u64);
        prop_assert_eq!(message_len(&body), plain.len() as u64);
    }

    #[test]
    fn data_output_has_one_end_of_data(body in body(), sizes in sizes()) {
        let (out, _) = run(BodyEncoder::data(), &cut(&body, &sizes));
        assert_only_crlf(&out);
        prop_assert!(out.ends_with(b".\r\n"));
        if out.len() == 3 {
            prop_assert!(body.is_empty());
        } else {
            prop_assert!(out.ends_with(b"\r\n.\r\n"));
            let first = memchr::memmem::find(&out, b"\r\n.\r\n").unwrap();
            prop_assert_eq!(first + 5, out.len(), "early end of data");
            prop_assert!(!out.starts_with(b".\r\n"), "body starts with end of data");
        }
    }

    #[test]
    fn normalize_and_raw_modes(body in body(), sizes in sizes()) {
        let chunks = cut(&body, &sizes);
        let (out, enc) = run(BodyEncoder::normalize(), &chunks);
        let want = normalise(&body);
        prop_assert_eq!(&out, &want);
        assert_only_crlf(&out);
        prop_assert_eq!(enc.message_len(), want.len() as u64);

        let (out, enc) = run(BodyEncoder::raw(), &chunks);
        prop_assert_eq!(&out, &body);
        prop_assert_eq!(enc.message_len(), body.len() as u64);
    }

    #[test]
    fn flags_match_the_input(body in body(), sizes in sizes()) {
        let chunks = cut(&body, &sizes);
        let eight = body.iter().any(|&b| b >= 0x80);
        let nul = body.contains(&0);
        for enc in [BodyEncoder::data(), BodyEncoder::normalize(), BodyEncoder::raw()] {
            let (_, enc) = run(enc, &chunks);
            prop_assert_eq!(enc.has_8bit(), eight);
            prop_assert_eq!(enc.has_nul(), nul);
        }
    }

    #[test]
    fn message_len_so_far_tracks_the_input(body in body(), sizes in sizes()) {
        // Before finish, after each chunk: the normalised size of what was
        // fed, where a trailing CR already counts as its CRLF.
        // prefix[i] is the normalised length of body[..i].
        let mut prefix = vec![0u64; body.len() + 1];
        for (i, &b) in body.iter().enumerate() {
            let crlf_tail = b == b'\n' && i > 0 && body[i - 1] == b'\r';
            prefix[i + 1] = prefix[i] + match b {
                _ if crlf_tail => 0,
                b'\r' | b'\n' => 2,
                _ => 1,
            };
        }
        prop_assert_eq!(prefix[body.len()], normalise(&body).len() as u64);
        let mut enc = BodyEncoder::data();
        let mut out = Vec::new();
        let mut fed = 0;
        for chunk in cut(&body, &sizes) {
            enc.encode(chunk, &mut out);
            fed += chunk.len();
            prop_assert_eq!(enc.message_len(), prefix[fed]);
        }
    }

    #[test]
    fn dot_unstuff_never_panics(wire in proptest::collection::vec(byte(), 0..300)) {
        if let Some(plain) = dot_unstuff(&wire) {
            // Whatever it accepts is CRLF text that survives a round trip
            // (not byte for byte: ".x" and "..x" both decode to "x").
            assert_only_crlf(&plain);
            prop_assert!(plain.is_empty() || plain.ends_with(b"\r\n"));
            let again = run(BodyEncoder::data(), &[&plain]).0;
            prop_assert_eq!(dot_unstuff(&again), Some(plain));
        }
    }
}
