#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Body encoder throughput against a plain copy of the same buffer.
//!
//! Three criterion groups (clean CRLF text through `data()`, the same buffer
//! copied with `extend_from_slice`, and bare-LF text through `data()`), then
//! one line comparing encoder and copy, timed in this process:
//! `body encoding (clean text) / memcpy = 0.NN x`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use smtp_proto::body::BodyEncoder;

const MIB: usize = 1 << 20;

/// About 1 MiB of printable lines of 76 characters, each ended by `eol`,
/// none starting with a dot.
fn text(eol: &[u8]) -> Vec<u8> {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789,;:!?()-";
    let mut out = Vec::with_capacity(MIB + 80);
    let mut k = 0usize;
    while out.len() < MIB {
        for _ in 0..76 {
            out.push(alphabet[k % alphabet.len()]);
            k = k.wrapping_mul(31).wrapping_add(7) % 9973;
        }
        out.extend_from_slice(eol);
    }
    out.truncate(MIB);
    out
}

fn encode_data(body: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut enc = BodyEncoder::data();
    enc.encode(body, out);
    enc.finish(out);
}

fn copy(body: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(body);
}

fn benches(c: &mut Criterion, crlf: &[u8], lf: &[u8]) {
    let mut out = Vec::with_capacity(2 * MIB + 16);
    let mut group = c.benchmark_group("body");
    group.throughput(Throughput::Bytes(crlf.len() as u64));
    group.bench_function("data_clean_crlf_1MiB", |b| {
        b.iter(|| encode_data(black_box(crlf), &mut out));
    });
    group.bench_function("memcpy_1MiB", |b| {
        b.iter(|| copy(black_box(crlf), &mut out));
    });
    group.throughput(Throughput::Bytes(lf.len() as u64));
    group.bench_function("data_bare_lf_1MiB", |b| {
        b.iter(|| encode_data(black_box(lf), &mut out));
    });
    group.finish();
}

/// Best time of `rounds` rounds of `iters` calls each.
fn best_of(rounds: usize, iters: usize, mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(start.elapsed() / iters as u32);
    }
    best
}

fn main() {
    let crlf = text(b"\r\n");
    let lf = text(b"\n");
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &crlf, &lf);
    c.final_summary();

    // The ratio lines only make sense in a real benchmark run: `cargo
    // bench` passes `--bench`; test runners listing or smoke-running the
    // benchmark binary do not.
    if std::env::args().any(|a| a == "--bench") {
        ratio("1 MiB, in cache", &crlf, 50);
        let big: Vec<u8> = crlf.iter().copied().cycle().take(64 * MIB).collect();
        ratio("64 MiB, out of cache", &big, 2);
    }
}

/// Prints encoder and memcpy throughput on `body`, measured in this process,
/// interleaved, best of several rounds, and their ratio.
fn ratio(label: &str, body: &[u8], iters: usize) {
    let mut out = Vec::with_capacity(2 * body.len() + 16);
    let mut enc_best = Duration::MAX;
    let mut copy_best = Duration::MAX;
    for _ in 0..5 {
        enc_best = enc_best.min(best_of(5, iters, || encode_data(black_box(body), &mut out)));
        copy_best = copy_best.min(best_of(5, iters, || copy(black_box(body), &mut out)));
    }
    let ratio = copy_best.as_secs_f64() / enc_best.as_secs_f64();
    let gib = |d: Duration| body.len() as f64 / d.as_secs_f64() / (1u64 << 30) as f64;
    println!(
        "{label}: encoder {:.1} GiB/s, memcpy {:.1} GiB/s",
        gib(enc_best),
        gib(copy_best)
    );
    println!("body encoding (clean text, {label}) / memcpy = {ratio:.2} x");
}
