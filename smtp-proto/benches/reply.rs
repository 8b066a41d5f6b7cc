#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Throughput of the reply parser, in bytes per second.
//!
//! The target is at least 1 GB/s for `parse_reply` on
//! an EHLO-like ten-line reply, in release mode.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smtp_proto::reply::{ParserConfig, ReplyReader, Status, parse_reply};

const EHLO: &[u8] = b"250-mx.example.org Hello client.example.com [192.0.2.1]\r\n\
250-SIZE 52428800\r\n\
250-8BITMIME\r\n\
250-PIPELINING\r\n\
250-PIPECONNECT\r\n\
250-AUTH PLAIN LOGIN XOAUTH2\r\n\
250-CHUNKING\r\n\
250-STARTTLS\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250 SMTPUTF8\r\n";

const SINGLE: &[u8] = b"250 2.1.0 Ok\r\n";

/// A pipelined transaction's replies: MAIL, three RCPT, DATA, end of data.
const TRANSACTION: &[u8] = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n\
550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown\r\n\
250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n\
250 2.0.0 Ok: queued as 4F2C81A0B3\r\n";

fn parse(c: &mut Criterion) {
    let config = ParserConfig::default();
    let mut group = c.benchmark_group("parse_reply");
    for (name, input) in [("ehlo_10_lines", EHLO), ("single_line", SINGLE)] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let Ok(Status::Complete((reply, n))) = parse_reply(black_box(input), &config)
                else {
                    panic!("bench input must parse");
                };
                black_box((reply, n))
            })
        });
    }
    group.throughput(Throughput::Bytes(EHLO.len() as u64));
    group.bench_function("ehlo_10_lines_owned", |b| {
        b.iter(|| {
            let Ok(Status::Complete((reply, _))) = parse_reply(black_box(EHLO), &config) else {
                panic!("bench input must parse");
            };
            black_box(reply.into_owned())
        })
    });
    group.finish();
}

fn reader(c: &mut Criterion) {
    let mut stream = Vec::new();
    for _ in 0..200 {
        stream.extend_from_slice(TRANSACTION);
        stream.extend_from_slice(EHLO);
    }
    let replies = 200 * 7;
    let mut group = c.benchmark_group("reply_reader");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("pipelined_one_push", |b| {
        let mut reader = ReplyReader::default();
        b.iter(|| {
            reader.push(black_box(&stream));
            let mut count = 0;
            while let Some(reply) = reader.next_reply().unwrap() {
                black_box(reply);
                count += 1;
            }
            assert_eq!(count, replies);
        })
    });
    group.bench_function("pipelined_1460_byte_segments", |b| {
        let mut reader = ReplyReader::default();
        b.iter(|| {
            let mut count = 0;
            for segment in black_box(&stream).chunks(1460) {
                reader.push(segment);
                while let Some(reply) = reader.next_reply().unwrap() {
                    black_box(reply);
                    count += 1;
                }
            }
            assert_eq!(count, replies);
        })
    });
    group.finish();
}

criterion_group!(benches, parse, reader);
criterion_main!(benches);
