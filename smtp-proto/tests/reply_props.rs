#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Property tests for the reply parser: the results do not
//! depend on how the input is split, the reader agrees with the stateless
//! parser, replies survive `write_to` and a new parse, and the reader's
//! memory stays bounded.

use proptest::prelude::*;
use smtp_proto::reply::{
    ParserConfig, Reply, ReplyCode, ReplyError, ReplyReader, Status, parse_reply,
};

type Outcome = Result<Reply, ReplyError>;

/// Drains every result the reader can give now.
fn drain(reader: &mut ReplyReader, out: &mut Vec<Outcome>) {
    loop {
        match reader.next_reply() {
            Ok(None) => return,
            Ok(Some(reply)) => out.push(Ok(reply)),
            Err(error) => out.push(Err(error)),
        }
    }
}

/// Feeds `input` cut at `cuts` (sorted or not, any values), draining after
/// each push, and checks the memory bound on the way.
fn run_split(config: ParserConfig, input: &[u8], cuts: &[usize]) -> Vec<Outcome> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(0);
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut reader = ReplyReader::new(config);
    let mut out = Vec::new();
    for pair in cuts.windows(2) {
        let chunk = &input[pair[0]..pair[1]];
        reader.push(chunk);
        assert!(
            reader.buffered_len() <= config.max_reply_len + chunk.len(),
            "buffered {} after a push of {}",
            reader.buffered_len(),
            chunk.len()
        );
        drain(&mut reader, &mut out);
        assert!(reader.buffered_len() <= config.max_reply_len);
    }
    out
}

fn run_whole(config: ParserConfig, input: &[u8]) -> Vec<Outcome> {
    run_split(config, input, &[])
}

fn run_bytewise(config: ParserConfig, input: &[u8]) -> Vec<Outcome> {
    let cuts: Vec<usize> = (0..input.len()).collect();
    run_split(config, input, &cuts)
}

/// Applies `parse_reply` repeatedly up to the first error, which the
/// stateless parser cannot skip.
fn run_stateless(config: ParserConfig, mut input: &[u8]) -> Vec<Outcome> {
    let mut out = Vec::new();
    loop {
        match parse_reply(input, &config) {
            Ok(Status::Complete((reply, n))) => {
                assert!(n > 0 && n <= input.len());
                assert_eq!(reply.as_bytes(), &input[..n]);
                out.push(Ok(reply.into_owned()));
                input = &input[n..];
            }
            Ok(Status::Partial) => return out,
            Err(error) => {
                out.push(Err(error));
                return out;
            }
        }
    }
}

/// Bytes built from SMTP-ish tokens, so that valid, nearly valid and
/// hostile lines all show up often.
fn smtpish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => prop::sample::select(vec![
            &b"250"[..], b"250-", b"250 ", b"550 ", b"550-", b"220 ", b"354 ", b"421 ",
            b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"2.1.0 ", b"5.1.1 ", b"Ok", b"text",
            b"2500", b"099", b"600", b"-", b" ", b"\0", b"\xff",
        ])
        .prop_map(<[u8]>::to_vec),
        1 => prop::collection::vec(any::<u8>(), 0..4),
        1 => prop::collection::vec(b'a'..=b'z', 0..24),
    ];
    prop::collection::vec(token, 0..48).prop_map(|tokens| tokens.concat())
}

fn config() -> impl Strategy<Value = ParserConfig> {
    prop_oneof![
        1 => any::<bool>().prop_map(|lf| ParserConfig::default().with_allow_bare_lf(lf)),
        3 => (0usize..40, 0usize..6, 0usize..120, any::<bool>()).prop_map(
            |(line, lines, reply, lf)| {
                ParserConfig::default()
                    .with_max_line_len(line)
                    .with_max_lines(lines)
                    .with_max_reply_len(reply)
                    .with_allow_bare_lf(lf)
            }
        ),
    ]
}

fn reply_code() -> impl Strategy<Value = ReplyCode> {
    (2u16..=5, 0u16..=5, 0u16..=9)
        .prop_map(|(a, b, c)| ReplyCode::new(a * 100 + b * 10 + c).unwrap())
}

/// A valid reply: any text bytes except LF, up to 6 lines.
fn valid_reply() -> impl Strategy<Value = Reply> {
    let text = prop::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..30);
    (reply_code(), prop::collection::vec(text, 1..6))
        .prop_map(|(code, lines)| Reply::new(code, lines))
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn split_invariance_arbitrary_bytes(input in smtpish(), config in config(), cuts in cuts()) {
        let whole = run_whole(config, &input);
        prop_assert_eq!(&run_split(config, &input, &cuts), &whole);
        prop_assert_eq!(&run_bytewise(config, &input), &whole);
    }

    #[test]
    fn split_invariance_raw_bytes(
        input in prop::collection::vec(any::<u8>(), 0..256),
        config in config(),
        cuts in cuts(),
    ) {
        let whole = run_whole(config, &input);
        prop_assert_eq!(&run_split(config, &input, &cuts), &whole);
        prop_assert_eq!(&run_bytewise(config, &input), &whole);
    }

    #[test]
    fn reader_agrees_with_stateless_parser(input in smtpish(), config in config()) {
        let stateless = run_stateless(config, &input);
        let reader = run_whole(config, &input);
        prop_assert!(reader.len() >= stateless.len());
        prop_assert_eq!(&reader[..stateless.len()], &stateless[..]);
        // Where the stateless parser stopped without an error, the reader did too.
        if stateless.last().is_none_or(Result::is_ok) {
            prop_assert_eq!(reader.len(), stateless.len());
        }
    }

    #[test]
    fn split_invariance_valid_replies(
        replies in prop::collection::vec(valid_reply(), 1..6),
        cuts in cuts(),
    ) {
        let mut wire = Vec::new();
        for reply in &replies {
            reply.write_to(&mut wire);
        }
        let expected: Vec<Outcome> = replies.into_iter().map(Ok).collect();
        let config = ParserConfig::default();
        prop_assert_eq!(&run_split(config, &wire, &cuts), &expected);
        prop_assert_eq!(&run_bytewise(config, &wire), &expected);
        prop_assert_eq!(&run_stateless(config, &wire), &expected);
    }

    #[test]
    fn write_then_parse_round_trip(reply in valid_reply()) {
        let mut wire = Vec::new();
        reply.write_to(&mut wire);
        let parsed = parse_reply(&wire, &ParserConfig::default()).unwrap();
        let Status::Complete((view, n)) = parsed else {
            panic!("partial after write_to: {wire:?}");
        };
        prop_assert_eq!(n, wire.len());
        prop_assert_eq!(view.into_owned(), reply);
    }

    #[test]
    fn parse_then_write_round_trip(input in smtpish(), config in config()) {
        if let Ok(Status::Complete((view, n))) = parse_reply(&input, &config) {
            prop_assert!(n > 0 && n <= input.len());
            let owned = view.into_owned();
            prop_assert_eq!(owned.code(), view.code());
            prop_assert_eq!(owned.line_count(), view.lines().count());
            let mut wire = Vec::new();
            owned.write_to(&mut wire);
            // The canonical form never uses bare LF and is never longer than
            // the input (it can only drop a SP after a bare code or a CR).
            prop_assert!(wire.len() <= n + owned.line_count());
            let lenient = config.with_allow_bare_lf(true).with_max_line_len(usize::MAX)
                .with_max_reply_len(usize::MAX);
            let again = parse_reply(&wire, &lenient).unwrap();
            let Status::Complete((again, m)) = again else {
                panic!("partial after write_to: {wire:?}");
            };
            prop_assert_eq!(m, wire.len());
            prop_assert_eq!(again.into_owned(), owned);
        }
    }

    #[test]
    fn memory_stays_bounded(
        input in prop::collection::vec(0usize..8, 0..2048)
            .prop_map(|picks| picks.into_iter().map(|i| b"250- x\r\n"[i]).collect::<Vec<u8>>()),
        config in config(),
        cuts in cuts(),
    ) {
        // run_split asserts the bound after every push and every drain.
        run_split(config, &input, &cuts);
    }
}

#[test]
fn endless_line_bounded_memory() {
    let config = ParserConfig::default();
    let mut reader = ReplyReader::new(config);
    reader.push(b"250 ");
    let chunk = [b'a'; 1000];
    let mut errors = 0;
    for _ in 0..1000 {
        reader.push(&chunk);
        assert!(reader.buffered_len() <= config.max_reply_len + chunk.len());
        while let Err(e) = reader.next_reply().map(|r| assert!(r.is_none())) {
            assert_eq!(e, ReplyError::LineTooLong);
            errors += 1;
        }
        assert!(reader.buffered_len() <= config.max_line_len);
    }
    assert_eq!(errors, 1, "one error, then discarding until the next LF");
    reader.push(b"\r\n221 bye\r\n");
    let reply = reader.next_reply().unwrap().unwrap();
    assert_eq!(reply.code(), ReplyCode::CLOSING);
}
