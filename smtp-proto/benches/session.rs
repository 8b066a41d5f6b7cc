#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The engine's CPU per message, with no socket and no clock: a session
//! on a warm connection sends to an in-memory server that answers
//! PIPELINING and CHUNKING commands (`tests/common/memory.rs`). The
//! server's own work (finding line ends, skipping BDAT data, writing
//! canned replies) is included, so these are upper bounds for the
//! client. End-to-end figures, where the kernel's share dominates, come
//! from `scripts/bench.sh`.

use std::hint::black_box;

#[path = "../tests/common/memory.rs"]
mod memory;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memory::{BODY, Run, envelope};
use smtp_proto::session::Error;
use smtp_proto::{Envelope, TxnReport};

const BATCH: usize = 100;

fn session(c: &mut Criterion) {
    let mut group = c.benchmark_group("session");
    for rcpts in [1, 10] {
        let env = envelope(rcpts);
        let mut run = Run::new();
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("send_{rcpts}_rcpt"), |b| {
            b.iter(|| black_box(run.send(&env, BODY)))
        });
        let messages: Vec<(Envelope, &[u8])> = (0..BATCH).map(|_| (env.clone(), BODY)).collect();
        let mut bodies: Vec<&[u8]> = vec![BODY; BATCH];
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(format!("send_many_{rcpts}_rcpt"), |b| {
            b.iter(|| {
                run.session.send_many(run.now, &messages);
                run.drive(&mut bodies, |_| {});
                let results: Vec<Result<TxnReport, Error>> = run.session.take_output().unwrap();
                black_box(results)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, session);
criterion_main!(benches);
