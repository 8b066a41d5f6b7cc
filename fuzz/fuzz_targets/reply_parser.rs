//! `parse_reply` on arbitrary bytes, with the default limits and with tiny
//! ones (so that every limit is hit often), with and without bare LF.
//!
//! Expectations: no panic; `Complete(n)` means `0 < n <= len` and the reply
//! is exactly the first `n` bytes; results are prefix-consistent (one byte
//! less than a complete reply is `Partial`, more bytes never change a
//! result); the owned reply survives `write_to` and a new parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::reply::{ParserConfig, ReplyError, Status, parse_reply};

fuzz_target!(|data: &[u8]| {
    let tiny = ParserConfig::default()
        .with_max_line_len(16)
        .with_max_lines(3)
        .with_max_reply_len(40);
    for config in [
        ParserConfig::default(),
        ParserConfig::default().with_allow_bare_lf(true),
        tiny,
        tiny.with_allow_bare_lf(true),
    ] {
        check(data, &config);
    }
});

/// A summary of a result that can be compared across inputs.
fn summary(data: &[u8], config: &ParserConfig) -> Result<Option<usize>, ReplyError> {
    parse_reply(data, config).map(|status| match status {
        Status::Complete((_, n)) => Some(n),
        Status::Partial => None,
    })
}

fn check(data: &[u8], config: &ParserConfig) {
    let result = summary(data, config);
    // More bytes never change a result that is already decided.
    let mut extended = data.to_vec();
    extended.extend_from_slice(b"250 x\r\n");
    let extended_result = summary(&extended, config);
    if result.is_err() || matches!(result, Ok(Some(_))) {
        assert_eq!(
            extended_result, result,
            "a decided result changed with more input"
        );
    }

    let Ok(Status::Complete((reply, n))) = parse_reply(data, config) else {
        return;
    };
    assert!(n > 0 && n <= data.len(), "consumed {n} of {}", data.len());
    assert!(n <= config.max_reply_len);
    assert_eq!(reply.as_bytes(), &data[..n]);
    assert_eq!(data[n - 1], b'\n', "a reply ends with LF");
    assert_eq!(
        summary(&data[..n - 1], config),
        Ok(None),
        "one byte less is partial"
    );

    let owned = reply.into_owned();
    assert_eq!(owned.code(), reply.code());
    assert!(owned.line_count() >= 1 && owned.line_count() <= config.max_lines);
    assert_eq!(owned.line_count(), reply.lines().count());
    assert_eq!(owned.enhanced_code(), reply.enhanced_code());
    assert_eq!(owned.to_string(), reply.to_string());

    let mut wire = Vec::new();
    owned.write_to(&mut wire);
    // The canonical form has CRLF everywhere and only loses a SP after a
    // bare code, so it is at most one byte per line longer (bare LF).
    assert!(wire.len() <= n + owned.line_count());
    let roomy = config
        .with_max_line_len(usize::MAX)
        .with_max_reply_len(usize::MAX);
    let Ok(Status::Complete((again, m))) = parse_reply(&wire, &roomy) else {
        panic!("write_to output does not parse: {wire:?}");
    };
    assert_eq!(m, wire.len());
    assert_eq!(again.into_owned(), owned);
}
