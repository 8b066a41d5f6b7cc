//! The hostile-server table of the dev crate `smtp-testkit`
//! (`smtp_testkit::hostile_cases`, scenarios in `smtp-proto/testkit/scenarios/`)
//! against the Tokio adapter: the data and the expected outcomes smtp-blocking
//! runs too. The server runs on std threads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Instant;

use hostile::Server;

/// This adapter, as `Case::finding_in` names it.
const ADAPTER: &str = "tokio";
use hostile_cases::{Call, Case, Policy};
use smtp_testkit::{hostile, hostile_cases};
use smtp_tokio::smtp_proto::Domain;
use smtp_tokio::{Builder, Certificate, Error, Refused, SmtpClient, TlsPolicy};

fn builder(case: &Case) -> Builder {
    let s = &case.setup;
    let mut b = Builder::new()
        .local_hostname(Domain::parse("client.test").unwrap())
        .timeout(s.timeout)
        .starttls(match s.policy {
            Policy::Disabled => TlsPolicy::Disabled,
            Policy::Opportunistic => TlsPolicy::Opportunistic,
            Policy::Required => TlsPolicy::Required,
        })
        .pipelining(s.pipelining)
        .chunking(s.chunking)
        .allow_plaintext_auth(s.plaintext_auth)
        .tls_server_name(s.server_name);
    if s.lmtp {
        b = b.lmtp();
    }
    if let Some(d) = s.call_deadline {
        b = b.call_deadline(d);
    }
    if let Some(d) = s.transaction_deadline {
        b = b.transaction_deadline(d);
    }
    if s.trust {
        let (cert, _) = hostile::test_cert();
        b = b.add_root_certificate(Certificate::from_pem(cert).unwrap());
    }
    b
}

async fn call(c: &mut SmtpClient, call: &Call) -> String {
    use hostile_cases::{refused, reply, unit};
    match call {
        Call::Connect => unreachable!(),
        Call::Noop => reply(&c.noop().await),
        Call::Quit => reply(&c.quit().await),
        Call::Rset => reply(&c.rset().await),
        Call::Ehlo => reply(&c.ehlo().await),
        Call::Starttls => unit(&c.starttls().await.map(|_| ())),
        Call::Login(u, p) => reply(&c.login(u, p).await),
        Call::AuthEcho => reply(&c.auth("X-TEST", |ch| ch.map(|_| b"a".to_vec())).await),
        Call::Sendmail {
            from,
            to,
            body,
            mail_opts,
            rcpt_opts,
        } => {
            let m: Vec<&str> = mail_opts.iter().map(String::as_str).collect();
            let r: Vec<&str> = rcpt_opts.iter().map(String::as_str).collect();
            let got: Result<Refused, Error> = c.sendmail(from, to, body, &m, &r).await;
            refused(&got)
        }
        Call::Mail(a, o) => {
            let o: Vec<&str> = o.iter().map(String::as_str).collect();
            reply(&c.mail(a, &o).await)
        }
        Call::Rcpt(a, o) => {
            let o: Vec<&str> = o.iter().map(String::as_str).collect();
            reply(&c.rcpt(a, &o).await)
        }
        Call::Data(b) => reply(&c.data(b).await),
        Call::Docmd(v, a) => reply(&c.docmd(v, a).await),
        Call::Verify(a) => reply(&c.verify(a).await),
        Call::Expn(a) => reply(&c.expn(a).await),
        Call::Help(t) => reply(&c.help(t.as_deref()).await),
        Call::ParseDomain(d) => hostile_cases::parse_domain(d),
        Call::HasExtn(x) => c.has_extn(x).to_string(),
        Call::IsTls => c.is_tls().to_string(),
        Call::SendMany(n) => {
            hostile_cases::batch(&c.send_many(&hostile_cases::batch_messages(*n)).await)
        }
        Call::Sleep(d) => {
            tokio::time::sleep(*d).await;
            "ok".into()
        }
    }
}

/// Runs one case; `Err` lists what went wrong.
async fn run(case: Case) -> Result<(), String> {
    let steps = hostile::parse(&case.scn).map_err(|e| format!("scenario: {e}"))?;
    let server = Server::start(steps);
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut client: Option<SmtpClient> = None;
    for (i, (c, want)) in case.calls.iter().enumerate() {
        let t0 = Instant::now();
        let got = match (c, client.as_mut()) {
            (Call::Connect, _) => match builder(&case)
                .connect_port("127.0.0.1", server.port())
                .await
            {
                Ok(cl) => {
                    client = Some(cl);
                    "ok".to_owned()
                }
                Err(e) => hostile_cases::error(&e),
            },
            (other, Some(cl)) => call(cl, other).await,
            (_, None) => "no client".to_owned(),
        };
        if std::env::var_os("HOSTILE_VERBOSE").is_some() {
            let mut what = format!("{c:?}");
            what.truncate(100);
            eprintln!("{}: call {i} {what} -> {got}", case.name);
        }
        if !hostile_cases::matches(want, &got) {
            let mut what = format!("{c:?}");
            what.truncate(160);
            problems.push(format!("call {i} {what}: want {want:?}, got {got:?}"));
        }
        if t0.elapsed() > case.budget {
            problems.push(format!("call {i} took {:?}", t0.elapsed()));
        }
    }
    if started.elapsed() > case.budget {
        problems.push(format!(
            "calls took {:?} > {:?}",
            started.elapsed(),
            case.budget
        ));
    }
    drop(client);
    let (result, received) = tokio::task::spawn_blocking(move || server.join())
        .await
        .unwrap();
    if let Err(e) = result {
        problems.push(format!("server: {e}"));
    }
    for f in &case.forbid {
        if received.windows(f.len()).any(|w| w == f.as_bytes()) {
            problems.push(format!("client sent forbidden {f:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let mut sent = format!("{:?}", String::from_utf8_lossy(&received));
        sent.truncate(600);
        Err(format!(
            "{}\n    client sent: {sent}",
            problems.join("\n    ")
        ))
    }
}

async fn run_all(findings: bool) {
    let cases: Vec<Case> = hostile_cases::cases()
        .into_iter()
        .filter(|c| c.is_finding(ADAPTER) == findings)
        .filter(|c| std::env::var("HOSTILE_CASE").map_or(true, |f| c.name.contains(&f)))
        .collect();
    assert!(!cases.is_empty() || std::env::var("HOSTILE_CASE").is_ok());
    let total = cases.len();
    // A few at a time: most cases wait for a deadline.
    let mut failures = Vec::new();
    for chunk in cases.chunks(8) {
        let handles: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|c| tokio::spawn(async move { (c.name.clone(), run(c).await) }))
            .collect();
        for h in handles {
            let (name, r) = h.await.unwrap();
            if let Err(e) = r {
                failures.push(format!("{name}:\n    {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_table() {
    run_all(false).await;
}

/// The cases that show a library bug (each names it in `finding`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "finding: cases marked `finding` in smtp_testkit::hostile_cases fail (library bugs, see there)"]
async fn hostile_findings() {
    run_all(true).await;
}
