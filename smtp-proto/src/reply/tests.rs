//! Unit tables for `parse_reply`, in httparse's style: name, configuration,
//! input bytes, expected result. Every row is also checked against the
//! reader fed byte by byte, and complete replies against a write/parse
//! round trip.

use super::*;

#[derive(Debug)]
enum Expect {
    /// Complete: code, each line's text, bytes consumed.
    Done(u16, &'static [&'static [u8]], usize),
    Partial,
    Fail(ReplyError),
}
use Expect::{Done, Fail, Partial};

fn d() -> ParserConfig {
    ParserConfig::default()
}

fn lenient() -> ParserConfig {
    d().with_allow_bare_lf(true)
}

fn check(input: &[u8], config: &ParserConfig, expect: Expect) {
    let got = parse_reply(input, config);
    match (&got, &expect) {
        (Ok(Status::Complete((reply, consumed))), Done(code, lines, n)) => {
            assert_eq!(reply.code().get(), *code, "code");
            let got_lines: Vec<&[u8]> = reply.lines().collect();
            assert_eq!(got_lines, *lines, "lines");
            assert_eq!(consumed, n, "consumed");
            assert_eq!(reply.as_bytes(), &input[..*n]);
            check_round_trip(reply, config);
        }
        (Ok(Status::Partial), Partial) => {}
        (Err(e), Fail(expected)) if e == expected => {}
        _ => panic!("expected {expect:?}, got {got:?}"),
    }
    // The reader, fed one byte at a time, finds the same first result.
    let mut reader = ReplyReader::new(*config);
    let mut first = None;
    for byte in input {
        reader.push(std::slice::from_ref(byte));
        match reader.next_reply() {
            Ok(None) => {}
            other => {
                first = Some(other);
                break;
            }
        }
    }
    match (first, &expect) {
        (None, Partial) => {}
        (Some(Ok(Some(reply))), Done(code, lines, _)) => {
            assert_eq!(reply.code().get(), *code);
            assert_eq!(reply.lines().collect::<Vec<_>>(), *lines);
        }
        (Some(Err(e)), Fail(expected)) => assert_eq!(e, *expected),
        (other, _) => panic!("reader: expected {expect:?}, got {other:?}"),
    }
}

fn check_round_trip(reply: &ReplyRef<'_>, config: &ParserConfig) {
    let owned = reply.into_owned();
    let mut wire = Vec::new();
    owned.write_to(&mut wire);
    let Ok(Status::Complete((again, n))) = parse_reply(&wire, config) else {
        panic!("round trip failed for {wire:?}");
    };
    assert_eq!(n, wire.len());
    assert_eq!(again.into_owned(), owned);
}

macro_rules! table {
    ($($name:ident: $config:expr, $input:expr => $expect:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let input: &[u8] = $input;
                check(input, &$config, $expect);
            }
        )*
    };
}

table! {
    // Valid replies.
    single_line: d(), b"250 OK\r\n" => Done(250, &[b"OK"], 8);
    code_alone: d(), b"250\r\n" => Done(250, &[b""], 5);
    code_and_space: d(), b"250 \r\n" => Done(250, &[b""], 6);
    greeting: d(), b"220 mx.example.org ESMTP ready\r\n"
        => Done(220, &[b"mx.example.org ESMTP ready"], 32);
    ehlo: d(), b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"
        => Done(250, &[b"mx.example.org", b"PIPELINING", b"SIZE 10240000", b"8BITMIME"], 69);
    empty_continuation_text: d(), b"250-\r\n250 last\r\n" => Done(250, &[b"", b"last"], 16);
    continuation_then_code_alone: d(), b"250-a\r\n250\r\n" => Done(250, &[b"a", b""], 12);
    stops_after_the_reply: d(), b"250 a\r\n221 b\r\n" => Done(250, &[b"a"], 7);
    stops_before_garbage: d(), b"250 a\r\n\xff\xff\xff\r\n" => Done(250, &[b"a"], 7);
    intermediate: d(), b"354 Start mail input\r\n" => Done(354, &[b"Start mail input"], 22);
    auth_challenge: d(), b"334 VXNlcm5hbWU6\r\n" => Done(334, &[b"VXNlcm5hbWU6"], 18);
    lowest_code: d(), b"200 x\r\n" => Done(200, &[b"x"], 7);
    highest_code: d(), b"559 x\r\n" => Done(559, &[b"x"], 7);
    tab_in_text: d(), b"250 a\tb\r\n" => Done(250, &[b"a\tb"], 9);
    double_space_kept: d(), b"250  two\r\n" => Done(250, &[b" two"], 10);
    hyphen_in_text: d(), b"250 -x\r\n" => Done(250, &[b"-x"], 8);

    // Partial input.
    empty: d(), b"" => Partial;
    one_digit: d(), b"2" => Partial;
    code_no_terminator: d(), b"250" => Partial;
    text_no_terminator: d(), b"250 OK" => Partial;
    cr_waiting_for_lf: d(), b"250 OK\r" => Partial;
    unterminated_continuation: d(), b"250-a\r\n" => Partial;
    second_line_partial: d(), b"250-a\r\n250 b" => Partial;
    second_line_code_only: d(), b"250-a\r\n25" => Partial;
    bad_code_waits_for_line_end: d(), b"600 x" => Partial;

    // Hostile: bad codes.
    crlf_alone: d(), b"\r\n" => Fail(ReplyError::InvalidCode);
    four_digits: d(), b"2500 x\r\n" => Fail(ReplyError::InvalidCode);
    four_digits_alone: d(), b"2500\r\n" => Fail(ReplyError::InvalidCode);
    leading_zero: d(), b"099 x\r\n" => Fail(ReplyError::InvalidCode);
    class_six: d(), b"600 x\r\n" => Fail(ReplyError::InvalidCode);
    class_one: d(), b"199 x\r\n" => Fail(ReplyError::InvalidCode);
    second_digit_six: d(), b"260 x\r\n" => Fail(ReplyError::InvalidCode);
    negative: d(), b"-250 x\r\n" => Fail(ReplyError::InvalidCode);
    two_digits: d(), b"25\r\n" => Fail(ReplyError::InvalidCode);
    two_digits_space: d(), b"25 x\r\n" => Fail(ReplyError::InvalidCode);
    letter_in_code: d(), b"25x x\r\n" => Fail(ReplyError::InvalidCode);
    leading_space: d(), b" 250 x\r\n" => Fail(ReplyError::InvalidCode);
    nul_code: d(), b"\0\0\0\r\n" => Fail(ReplyError::InvalidCode);
    text_only: d(), b"OK\r\n" => Fail(ReplyError::InvalidCode);
    bad_code_on_second_line: d(), b"250-a\r\n25\r\n" => Fail(ReplyError::InvalidCode);

    // Hostile: separators.
    letter_separator: d(), b"250x\r\n" => Fail(ReplyError::InvalidSeparator);
    tab_separator: d(), b"250\tOK\r\n" => Fail(ReplyError::InvalidSeparator);
    nul_separator: d(), b"250\0OK\r\n" => Fail(ReplyError::InvalidSeparator);
    cr_separator: d(), b"250\rx\r\n" => Fail(ReplyError::InvalidSeparator);
    bad_separator_second_line: d(), b"250-a\r\n250=b\r\n" => Fail(ReplyError::InvalidSeparator);

    // Hostile: multi-line replies whose codes disagree.
    mismatched_class: d(), b"250-a\r\n550 b\r\n" => Fail(ReplyError::InconsistentCodes);
    mismatched_detail: d(), b"250-a\r\n251 b\r\n" => Fail(ReplyError::InconsistentCodes);
    mismatched_in_middle: d(), b"250-a\r\n250-b\r\n450-c\r\n250 d\r\n"
        => Fail(ReplyError::InconsistentCodes);
    mismatched_even_if_continuation: d(), b"421-a\r\n221-b\r\n"
        => Fail(ReplyError::InconsistentCodes);

    // Hostile: text bytes, which are kept.
    nul_in_text: d(), b"250 a\0b\r\n" => Done(250, &[b"a\0b"], 9);
    non_utf8_text: d(), b"550 \xff\xfe caf\xc3\xa9\r\n"
        => Done(550, &[b"\xff\xfe caf\xc3\xa9"], 14);
    escape_in_text: d(), b"250 \x1b[31mred\r\n" => Done(250, &[b"\x1b[31mred"], 14);
    lone_cr_in_text: d(), b"250 a\rb\r\n" => Done(250, &[b"a\rb"], 9);
    cr_before_crlf: d(), b"250 a\r\r\n" => Done(250, &[b"a\r"], 8);
    lone_cr_then_fake_line: d(), b"250 a\r550 b\r\n" => Done(250, &[b"a\r550 b"], 13);

    // Hostile: bare LF.
    bare_lf: d(), b"250 a\n" => Fail(ReplyError::BareLf);
    lf_alone: d(), b"\n" => Fail(ReplyError::BareLf);
    bare_lf_on_second_line: d(), b"250-a\r\n250 b\n" => Fail(ReplyError::BareLf);
    bare_lf_after_lone_cr: d(), b"250 a\rb\n" => Fail(ReplyError::BareLf);
    bare_lf_beats_bad_code: d(), b"xyz\n" => Fail(ReplyError::BareLf);
    bare_lf_allowed: lenient(), b"250 a\n" => Done(250, &[b"a"], 6);
    bare_lf_allowed_mixed: lenient(), b"250-a\n250 b\r\n" => Done(250, &[b"a", b"b"], 13);
    bare_lf_allowed_keeps_lone_cr: lenient(), b"250 a\rb\n" => Done(250, &[b"a\rb"], 8);
    bare_lf_allowed_crlf: lenient(), b"250 a\r\n" => Done(250, &[b"a"], 7);
    bare_lf_allowed_code_alone: lenient(), b"250\n" => Done(250, &[b""], 4);
    lf_alone_allowed: lenient(), b"\n" => Fail(ReplyError::InvalidCode);

    // Hostile: limits.
    line_over_limit: d().with_max_line_len(8), b"250 abcd\r\n" => Fail(ReplyError::LineTooLong);
    line_fits: d().with_max_line_len(10), b"250 abcd\r\n" => Done(250, &[b"abcd"], 10);
    long_line_unterminated: d().with_max_line_len(10), b"250 abcdefg"
        => Fail(ReplyError::LineTooLong);
    long_line_fills_window: d().with_max_line_len(10), b"250 abcdef" => Partial;
    long_second_line: d().with_max_line_len(8), b"250-a\r\n250 abcde"
        => Fail(ReplyError::LineTooLong);
    long_line_beats_bad_code: d().with_max_line_len(4), b"xxxxx\r\n"
        => Fail(ReplyError::LineTooLong);
    zero_line_len: d().with_max_line_len(0), b"2" => Fail(ReplyError::LineTooLong);
    zero_line_len_empty: d().with_max_line_len(0), b"" => Partial;
    lines_at_limit: d().with_max_lines(3), b"250-a\r\n250-b\r\n250 c\r\n"
        => Done(250, &[b"a", b"b", b"c"], 21);
    too_many_lines: d().with_max_lines(3), b"250-a\r\n250-b\r\n250-c\r\n"
        => Fail(ReplyError::TooManyLines);
    too_many_lines_partial: d().with_max_lines(3), b"250-a\r\n250-b\r\n250-c" => Partial;
    zero_lines: d().with_max_lines(0), b"250 a\r\n" => Fail(ReplyError::TooManyLines);
    one_line_continuation: d().with_max_lines(1), b"250-a\r\n" => Fail(ReplyError::TooManyLines);
    reply_at_limit: d().with_max_reply_len(15), b"250-a\r\n250 bc\r\n"
        => Done(250, &[b"a", b"bc"], 15);
    reply_too_long: d().with_max_reply_len(14), b"250-a\r\n250 bc\r\n"
        => Fail(ReplyError::ReplyTooLong);
    reply_too_long_unterminated: d().with_max_reply_len(13), b"250-a\r\n250 bcd"
        => Fail(ReplyError::ReplyTooLong);
    reply_budget_spent: d().with_max_reply_len(7), b"250-a\r\n" => Partial;
    reply_budget_exceeded_by_one: d().with_max_reply_len(7), b"250-a\r\n2"
        => Fail(ReplyError::ReplyTooLong);
    zero_reply_len: d().with_max_reply_len(0), b"2" => Fail(ReplyError::ReplyTooLong);
    line_limit_named_when_smaller: d().with_max_line_len(5).with_max_reply_len(100), b"250 abc"
        => Fail(ReplyError::LineTooLong);
    reply_limit_named_when_smaller: d().with_max_line_len(100).with_max_reply_len(5), b"250 abc"
        => Fail(ReplyError::ReplyTooLong);
    inconsistent_code_before_line_count: d().with_max_lines(2), b"250-a\r\n550-b\r\n"
        => Fail(ReplyError::InconsistentCodes);
    bad_code_before_line_count: d().with_max_lines(1), b"2500-a\r\n"
        => Fail(ReplyError::InvalidCode);
}

fn first_result(input: &[u8], config: &ParserConfig) -> Result<Status<(Reply, usize)>, ReplyError> {
    parse_reply(input, config).map(|status| status.map(|(reply, n)| (reply.into_owned(), n)))
}

#[test]
fn default_line_limit() {
    let mut line = b"250 ".to_vec();
    line.resize(ParserConfig::DEFAULT_MAX_LINE_LEN - 2, b'a');
    check(&line, &d(), Partial);
    let mut exact = line.clone();
    exact.extend_from_slice(b"\r\n");
    assert_eq!(exact.len(), 8192);
    let Ok(Status::Complete((reply, n))) = first_result(&exact, &d()) else {
        panic!("a line of exactly max_line_len bytes is valid");
    };
    assert_eq!(n, 8192);
    assert_eq!(reply.first_line().len(), 8192 - 6);

    let mut unterminated = line.clone();
    unterminated.extend_from_slice(b"aa");
    assert_eq!(unterminated.len(), 8192);
    check(&unterminated, &d(), Partial);
    unterminated.push(b'a');
    check(&unterminated, &d(), Fail(ReplyError::LineTooLong));

    let mut over = line;
    over.extend_from_slice(b"a\r\n");
    check(&over, &d(), Fail(ReplyError::LineTooLong));
}

#[test]
fn default_lines_limit_endless_continuation() {
    let max = ParserConfig::DEFAULT_MAX_LINES;
    let endless = b"250-x\r\n".repeat(max - 1);
    check(&endless, &d(), Partial);
    let mut finished = endless.clone();
    finished.extend_from_slice(b"250 x\r\n");
    let Ok(Status::Complete((reply, _))) = first_result(&finished, &d()) else {
        panic!("{max} lines are allowed");
    };
    assert_eq!(reply.line_count(), max);
    let mut over = endless;
    over.extend_from_slice(b"250-x\r\n");
    check(&over, &d(), Fail(ReplyError::TooManyLines));
}

#[test]
fn default_reply_limit() {
    // 64 lines of 1024 bytes = 65536 bytes exactly.
    let mut line = b"250-".to_vec();
    line.resize(1022, b'x');
    line.extend_from_slice(b"\r\n");
    let mut reply = line.repeat(63);
    let mut last = line.clone();
    last[3] = b' ';
    reply.extend_from_slice(&last);
    assert_eq!(reply.len(), ParserConfig::DEFAULT_MAX_REPLY_LEN);
    let Ok(Status::Complete((parsed, n))) = first_result(&reply, &d()) else {
        panic!("a reply of exactly max_reply_len bytes is valid");
    };
    assert_eq!((parsed.line_count(), n), (64, 65536));
    let mut over = line.repeat(64);
    check(&over, &d(), Partial);
    over.push(b'2');
    check(&over, &d(), Fail(ReplyError::ReplyTooLong));
}

#[test]
fn complete_consumes_at_most_the_input() {
    for input in [&b"250 a\r\n"[..], b"250 a\r\nrest", b"250\r\n250\r\n"] {
        let Ok(Status::Complete((reply, n))) = parse_reply(input, &d()) else {
            panic!("complete");
        };
        assert!(n > 0 && n <= input.len());
        assert_eq!(reply.as_bytes().len(), n);
    }
}

#[test]
fn reply_accessors() {
    let input = b"550-5.1.1 <nobody@example.org>: no such user\r\n550 5.1.1 see \xff\r\n";
    let Ok(Status::Complete((view, _))) = parse_reply(input, &d()) else {
        panic!("complete");
    };
    let code = ReplyCode::new(550).unwrap();
    let esc = EnhancedStatusCode {
        class: 5,
        subject: 1,
        detail: 1,
    };
    assert_eq!(view.code(), code);
    assert_eq!(view.enhanced_code(), Some(esc));
    let text = "5.1.1 <nobody@example.org>: no such user\n5.1.1 see \u{fffd}";
    assert_eq!(view.text_lossy(), text);
    assert_eq!(view.to_string(), format!("550 {text}"));
    let owned = view.to_owned();
    assert_eq!(owned, Reply::from(view));
    assert_eq!(owned.code(), code);
    assert_eq!(owned.enhanced_code(), Some(esc));
    assert_eq!(owned.text_lossy(), text);
    assert_eq!(owned.to_string(), format!("550 {text}"));
    assert_eq!(owned.line_count(), 2);
    let mut wire = Vec::new();
    owned.write_to(&mut wire);
    assert_eq!(wire, input);
    assert_eq!(
        format!("{owned:?}"),
        r#"Reply { code: 550, lines: ["5.1.1 <nobody@example.org>: no such user", "5.1.1 see \xff"] }"#
    );
    assert!(format!("{view:?}").starts_with("ReplyRef { code: 550, lines: ["));
}

#[test]
fn enhanced_code_needs_matching_class() {
    let ok = |text: &[u8]| Reply::new(ReplyCode::OK, vec![text.to_vec()]);
    assert_eq!(ok(b"5.1.1 odd").enhanced_code(), None);
    assert_eq!(
        ok(b"2.0.0 fine").enhanced_code().unwrap().to_string(),
        "2.0.0"
    );
    assert_eq!(ok(b"fine").enhanced_code(), None);
    let later = Reply::new(
        ReplyCode::OK,
        vec![b"first".to_vec(), b"2.0.0 second".to_vec()],
    );
    assert_eq!(later.enhanced_code(), None, "only the first line counts");
}

#[test]
fn new_and_write_to() {
    let empty = Reply::new(ReplyCode::SERVICE_READY, Vec::new());
    assert_eq!(empty.lines().collect::<Vec<_>>(), [b""]);
    assert_eq!(empty.to_string(), "220");
    let mut wire = Vec::new();
    empty.write_to(&mut wire);
    assert_eq!(wire, b"220\r\n");

    let multi = Reply::new(
        ReplyCode::OK,
        vec![b"a".to_vec(), Vec::new(), b"c".to_vec()],
    );
    wire.clear();
    multi.write_to(&mut wire);
    assert_eq!(wire, b"250-a\r\n250-\r\n250 c\r\n");
    assert_eq!(multi.text_lossy(), "a\n\nc");
    assert_eq!(multi.to_string(), "250 a\n\nc");

    let ends_empty = Reply::new(ReplyCode::OK, vec![b"a".to_vec(), Vec::new()]);
    wire.clear();
    ends_empty.write_to(&mut wire);
    assert_eq!(wire, b"250-a\r\n250\r\n");
}

#[test]
fn status_helpers() {
    let partial: Status<u8> = Status::Partial;
    assert!(partial.is_partial() && !partial.is_complete());
    assert_eq!(Status::Complete(2).map(|v| v * 2), Status::Complete(4));
    assert_eq!(partial.map(|v| v * 2), Status::Partial);
}

#[test]
fn config_defaults() {
    let config = ParserConfig::default();
    assert_eq!(config, ParserConfig::new());
    assert_eq!(config.max_line_len, 8192);
    assert_eq!(config.max_lines, 256);
    assert_eq!(config.max_reply_len, 65536);
    assert!(!config.allow_bare_lf);
}

#[test]
fn errors_display() {
    for e in [
        ReplyError::InvalidCode,
        ReplyError::InvalidSeparator,
        ReplyError::InconsistentCodes,
        ReplyError::LineTooLong,
        ReplyError::TooManyLines,
        ReplyError::ReplyTooLong,
        ReplyError::BareLf,
    ] {
        assert!(!e.to_string().is_empty());
    }
}
