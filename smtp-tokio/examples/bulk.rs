//! Bulk sending through a [`Pool`]: N messages over K pooled connections,
//! printing messages per second.
//!
//! ```text
//! cargo run --release -p smtp-tokio --example bulk -- [OPTIONS]
//!   --server HOST[:PORT]  default localhost:25
//!   --messages N          default 1000        --connections K   default 10
//!   --size BYTES          body size, default 1024
//!   --from ADDR --to ADDR default bulk@example.org / sink@example.org
//!   --tls | --starttls    --ca-file PEM        --user U --password P
//!   --no-chunking         DATA instead of BDAT when CHUNKING is offered
//!   --mode batch|tasks    batch (default): Pool::send_many, messages
//!                         pipelined within each connection; tasks: one
//!                         Tokio task per message calling Pool::send
//! ```
//!
//! Output: one line, `N messages over K connections in T s: R messages/s
//! (delivered D, failed F)`. Exit status 0 when every message was
//! delivered, 1 otherwise, 2 on a usage error.
//!
//! Against the project's test servers, `smtp-sink` measures the client:
//! `--server 127.0.0.1:$SMTP_TEST_SINK_PORT`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtp_tokio::smtp_proto::{BodyOptions, Envelope, ForwardPath, ReversePath, TxnOutcome};
use smtp_tokio::{Builder, Error, Pool, PoolConfig, TlsPolicy, load_pem_certificates};

struct Args {
    server: String,
    messages: usize,
    connections: usize,
    size: usize,
    from: String,
    to: String,
    tls: bool,
    starttls: bool,
    ca_file: Option<String>,
    login: Option<(String, String)>,
    tasks: bool,
    chunking: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        server: "localhost:25".to_owned(),
        messages: 1000,
        connections: 10,
        size: 1024,
        from: "bulk@example.org".to_owned(),
        to: "sink@example.org".to_owned(),
        tls: false,
        starttls: false,
        ca_file: None,
        login: None,
        tasks: false,
        chunking: true,
    };
    let (mut user, mut password) = (None, None);
    let mut it = std::env::args().skip(1);
    let number = |v: Option<String>, name: &str| -> Result<usize, String> {
        v.and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name} needs a positive number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--server" => a.server = it.next().ok_or("--server needs a value")?,
            "--messages" => a.messages = number(it.next(), "--messages")?,
            "--connections" => a.connections = number(it.next(), "--connections")?,
            "--size" => a.size = number(it.next(), "--size")?,
            "--from" => a.from = it.next().ok_or("--from needs a value")?,
            "--to" => a.to = it.next().ok_or("--to needs a value")?,
            "--tls" => a.tls = true,
            "--no-chunking" => a.chunking = false,
            "--starttls" => a.starttls = true,
            "--ca-file" => a.ca_file = Some(it.next().ok_or("--ca-file needs a value")?),
            "--user" => user = Some(it.next().ok_or("--user needs a value")?),
            "--password" => password = Some(it.next().ok_or("--password needs a value")?),
            "--mode" => match it.next().as_deref() {
                Some("batch") => a.tasks = false,
                Some("tasks") => a.tasks = true,
                _ => return Err("--mode is batch or tasks".to_owned()),
            },
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    match (user, password) {
        (Some(u), Some(p)) => a.login = Some((u, p)),
        (None, None) => {}
        _ => return Err("--user and --password go together".to_owned()),
    }
    Ok(a)
}

/// A body of `size` bytes: a Subject header and 76-character lines.
fn body(size: usize, n: usize) -> Vec<u8> {
    let mut b = format!("Subject: bulk message {n}\r\n\r\n").into_bytes();
    while b.len() < size {
        b.extend_from_slice(&[b'a'; 74]);
        b.extend_from_slice(b"\r\n");
    }
    b
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(a: Args) -> Result<bool, Error> {
    // The benchmark sink speaks plaintext on loopback.
    let mut builder = Builder::new()
        .insecure_plaintext()
        .timeout(Duration::from_secs(60))
        .chunking(a.chunking);
    if a.tls {
        builder = builder.implicit_tls();
    }
    if a.starttls {
        builder = builder.starttls(TlsPolicy::Required);
    }
    if let Some(path) = &a.ca_file {
        for cert in load_pem_certificates(std::path::Path::new(path))? {
            builder = builder.add_root_certificate(cert);
        }
    }
    let mut config = PoolConfig::default()
        .with_max_size(a.connections)
        .with_max_messages(None);
    if let Some((user, password)) = &a.login {
        config = config.with_login(user, password);
    }
    let pool = Pool::new(builder, &a.server, config);
    let from = ReversePath::parse(&a.from)?;
    let to = ForwardPath::parse(&a.to)?;
    let messages: Vec<(Envelope, Vec<u8>)> = (0..a.messages)
        .map(|n| (Envelope::new(from.clone(), [to.clone()]), body(a.size, n)))
        .collect();

    let started = Instant::now();
    let delivered = if a.tasks {
        let messages = Arc::new(messages);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..a.messages {
            let (pool, messages) = (pool.clone(), Arc::clone(&messages));
            tasks.spawn(async move {
                let Some((env, body)) = messages.get(n) else {
                    return false;
                };
                let sent = pool
                    .send_report(env, &body[..], BodyOptions::for_body(body))
                    .await;
                matches!(sent, Ok(r) if r.outcome == TxnOutcome::Delivered)
            });
        }
        let mut ok = 0usize;
        while let Some(joined) = tasks.join_next().await {
            if matches!(joined, Ok(true)) {
                ok += 1;
            }
        }
        ok
    } else {
        pool.send_many(&messages)
            .await
            .iter()
            .filter(|r| matches!(r, Ok(rep) if rep.outcome == TxnOutcome::Delivered))
            .count()
    };
    let elapsed = started.elapsed();
    let opened = pool.stats().opened;
    pool.close().await;
    let failed = a.messages - delivered;
    println!(
        "{} messages over {opened} connections in {:.3} s: {:.0} messages/s (delivered {delivered}, failed {failed})",
        a.messages,
        elapsed.as_secs_f64(),
        a.messages as f64 / elapsed.as_secs_f64(),
    );
    Ok(failed == 0)
}
