//! SCRAM-SHA-256 against scripted peers (the dev crate `smtp-testkit`'s
//! hostile server and its `scram` fault table, which `smtp-tokio` runs too):
//! EOF, 421 and a stall at each step inside the exchange end with the typed
//! error in bounded time; a wrong or missing server signature is never a
//! success; `-PLUS` binds to the certificate native-tls saw.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use smtp_blocking::smtp_proto::Domain;
use smtp_blocking::smtp_proto::auth::ScramSha256;
use smtp_blocking::{Builder, Certificate, TlsPolicy};
use smtp_testkit::hostile::{self, Server};
use smtp_testkit::hostile_cases;
use smtp_testkit::scram::{self, CLIENT_NONCE, Exchange, PASSWORD, USER};

fn builder(timeout: Duration) -> Builder {
    Builder::new()
        .local_hostname(Domain::parse("client.test").unwrap())
        .timeout(timeout)
        .starttls(TlsPolicy::Disabled)
        .allow_plaintext_auth(true)
}

fn rfc_scram() -> ScramSha256 {
    ScramSha256::with_nonce(USER, PASSWORD, CLIENT_NONCE).unwrap()
}

#[test]
fn scram_fault_table() {
    let mut problems = Vec::new();
    for case in scram::fault_cases() {
        let server = Server::start(hostile::parse(&case.script).unwrap());
        let started = Instant::now();
        let mut client = builder(scram::FAULT_TIMEOUT)
            .connect_port("127.0.0.1", server.port())
            .unwrap();
        let got = hostile_cases::reply(&client.authenticate(&mut rfc_scram()));
        let took = started.elapsed();
        drop(client);
        if !hostile_cases::matches(case.expect, &got) {
            problems.push(format!("{}: want {}, got {got}", case.name, case.expect));
        }
        if took > Duration::from_secs(3) {
            problems.push(format!("{}: took {took:?}", case.name));
        }
        if let (Err(e), received) = server.join() {
            let sent = String::from_utf8_lossy(&received);
            problems.push(format!("{}: server: {e}; client sent {sent:?}", case.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Implicit TLS to the test certificate, advertising `mechanisms`.
fn tls_open(mechanisms: &str) -> String {
    format!("TLS\nS: 220 mx.test ESMTP\nC^ EHLO\nS: 250-mx.test\\r\\n250 AUTH {mechanisms}\n")
}

fn tls_builder() -> Builder {
    let (cert, _) = hostile::test_cert();
    builder(Duration::from_secs(3))
        .implicit_tls()
        .tls_server_name("localhost")
        .add_root_certificate(Certificate::from_pem(cert).unwrap())
}

#[test]
fn scram_plus_binds_to_the_server_certificate() {
    // The client-first and -final a server with the test certificate
    // expects: c= carries the certificate's SHA-256 (tls-server-end-point).
    let first = format!("p=tls-server-end-point,,n={USER},r={CLIENT_NONCE}");
    let x = Exchange::answer(first.as_bytes(), PASSWORD, &scram::test_cert_end_point());
    let [c1, s1, c2, s2] = x.wire();
    let script = format!(
        "{}C: AUTH SCRAM-SHA-256-PLUS {c1}\nS: 334 {s1}\nC: {c2}\nS: 334 {s2}\nC: \nS: 235 2.7.0 ok\nBYE\n",
        tls_open("SCRAM-SHA-256-PLUS SCRAM-SHA-256")
    );
    let server = Server::start(hostile::parse(&script).unwrap());
    let mut client = tls_builder()
        .connect_port("127.0.0.1", server.port())
        .unwrap();
    // The caller names the mechanism only; the session supplies the binding.
    let mut auth = rfc_scram().with_plus(true);
    let reply = client.authenticate(&mut auth).unwrap();
    assert_eq!(reply.code().get(), 235);
    drop(client);
    server.finish();
}

#[test]
fn login_prefers_scram_plus_over_tls() {
    // login's nonce is random, so only the fixed start of client-first is
    // checked: "p=tls-server-end-point,,n=user,r=" is 33 bytes, 44 base64
    // characters. A 535 then ends it (no other mechanism is tried).
    let prefix = scram::b64(format!("p=tls-server-end-point,,n={USER},r="));
    let script = format!(
        "{}C^ AUTH SCRAM-SHA-256-PLUS {prefix}\nS: 535 5.7.8 no\nBYE\n",
        tls_open("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 SCRAM-SHA-256-PLUS")
    );
    let server = Server::start(hostile::parse(&script).unwrap());
    let mut client = tls_builder()
        .connect_port("127.0.0.1", server.port())
        .unwrap();
    let e = client.login(USER, PASSWORD).unwrap_err();
    assert_eq!(
        hostile_cases::error(&e),
        "AuthenticationError(SCRAM-SHA-256-PLUS, 535)"
    );
    drop(client);
    server.finish();
}
