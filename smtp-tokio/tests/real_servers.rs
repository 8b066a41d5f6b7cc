//! Integration tests against the real servers of `scripts/test-servers.sh`
//! (Postfix, Dovecot LMTP, aiosmtpd, smtp-sink). Each test skips with a
//! note when `SMTP_TEST_*` is missing, and fails under `CI=true`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};

use common::{
    ServersExt, aiosmtpd_delivery, maildir_message, postfix_delivery, servers, strip_received,
    token,
};
use smtp_tokio::smtp_proto::auth::ScramSha256;
use smtp_tokio::smtp_proto::{
    BodyOptions, DeliveryScope, Envelope, ForwardPath, ReversePath, TxnOutcome, UsageError,
};
use smtp_tokio::{Error, TlsPolicy};
use tokio::io::{AsyncRead, ReadBuf};

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(
        ReversePath::parse(from).unwrap(),
        to.iter().map(|t| ForwardPath::parse(t).unwrap()),
    )
}

/// The final reply text of a delivered report.
fn final_text(report: &smtp_tokio::smtp_proto::TxnReport) -> String {
    report
        .recipients
        .iter()
        .find_map(|r| r.delivery_reply.as_ref())
        .map(|r| r.text_lossy())
        .expect("a final reply")
}

/// SCRAM-SHA-256 against Dovecot's SASL behind Postfix (`auth_mechanisms`
/// includes `scram-sha-256` in `scripts/test-servers.sh`). Dovecot 2.3 does
/// not implement SCRAM-SHA-256-PLUS (no channel binding), so the
/// -PLUS path is covered by the scripted peers in `tests/scram.rs` only.
#[tokio::test]
async fn postfix_dovecot_scram_sha_256() {
    let Some(s) = servers() else { return };
    let addr = s.addr("SMTP_TEST_POSTFIX_PORT");
    let builder = s.builder().starttls(TlsPolicy::Required);
    let mut c = builder.connect(&addr).await.unwrap();
    let offered = c.esmtp_features().unwrap().auth_mechanisms().to_vec();
    assert!(
        offered.iter().any(|m| m == "SCRAM-SHA-256"),
        "Dovecot behind Postfix offers SCRAM-SHA-256: {offered:?}"
    );
    // login picks SCRAM-SHA-256 over PLAIN and LOGIN: a wrong password is
    // refused for that mechanism, and nothing else is tried after the 535.
    let e = c.login(&s.user(), "wrong").await.unwrap_err();
    match &e {
        Error::AuthenticationError { mechanism, reply } => {
            assert_eq!(mechanism, "SCRAM-SHA-256");
            assert_eq!(reply.code().get(), 535);
        }
        other => panic!("{other:?}"),
    }
    // ...and the right one succeeds (the server's signature verified).
    let mut c = builder.connect(&addr).await.unwrap();
    let ok = c.login(&s.user(), &s.password()).await.unwrap();
    assert_eq!(ok.code().get(), 235);
    assert_eq!(c.noop().await.unwrap().code().get(), 250);
    c.quit().await.unwrap();
    // An explicit ScramSha256 through authenticate.
    let mut c = builder.connect(&addr).await.unwrap();
    let mut scram = ScramSha256::new(&s.user(), &s.password()).unwrap();
    assert_eq!(c.authenticate(&mut scram).await.unwrap().code().get(), 235);
    c.quit().await.unwrap();
    let mut c = builder.connect(&addr).await.unwrap();
    let mut scram = ScramSha256::new(&s.user(), "wrong").unwrap();
    let e = c.authenticate(&mut scram).await.unwrap_err();
    assert!(matches!(&e, Error::AuthenticationError { .. }), "{e:?}");
    assert_eq!(e.smtp_code(), Some(535));
}

#[tokio::test]
async fn postfix_starttls_login_and_one_refused_of_three() {
    let Some(s) = servers() else { return };
    let mut smtp = s
        .builder()
        .starttls(TlsPolicy::Required)
        .connect(&s.addr("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap();
    assert!(smtp.is_tls());
    assert!(smtp.has_extn("auth"), "AUTH after STARTTLS");
    let reply = smtp.login(&s.user(), &s.password()).await.unwrap();
    assert_eq!(reply.code().get(), 235);
    let tok = token("p3");
    let msg = format!("Subject: {tok}\r\n\r\nthree recipients\r\n");
    let env = envelope(
        "sender@example.org",
        &["a@example.org", "reject-me@example.org", "b@example.org"],
    );
    let report = smtp
        .send_report(&env, msg.as_bytes(), BodyOptions::for_body(msg.as_bytes()))
        .await
        .unwrap();
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let refused: Vec<String> = report.refused().map(|(a, _)| a.to_string()).collect();
    assert_eq!(refused, ["<reject-me@example.org>"]);
    let (eml, env_lines) = postfix_delivery(&s, &final_text(&report));
    assert_eq!(
        String::from_utf8_lossy(strip_received(&eml)),
        format!("Subject: {tok}\n\nthree recipients\n")
    );
    let mut rcpts: Vec<&str> = env_lines.iter().skip(1).map(String::as_str).collect();
    rcpts.sort_unstable();
    assert_eq!(rcpts, ["rcpt a@example.org", "rcpt b@example.org"]);
    assert_eq!(env_lines[0], "sender sender@example.org");

    // smtplib's sendmail: the refused map, by the caller's spelling.
    let refused = smtp
        .sendmail(
            "sender@example.org",
            &["c@example.org", "tempfail-x@example.org"],
            b"Subject: sendmail\r\n\r\nbody\r\n",
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused["tempfail-x@example.org"].code().get(), 450);
    smtp.quit().await.unwrap();
    assert!(matches!(
        smtp.noop().await,
        Err(Error::ServerDisconnected { .. })
    ));
}

#[tokio::test]
async fn postfix_refusals_are_smtplib_errors() {
    let Some(s) = servers() else { return };
    let mut smtp = s
        .builder()
        .connect(&s.addr("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap();
    let e = smtp
        .sendmail(
            "reject-s@example.org",
            &["a@example.org"],
            b"x\r\n",
            &[],
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::SenderRefused { sender, .. } if sender == "reject-s@example.org"));
    assert_eq!(e.smtp_code(), Some(550));
    let e = smtp
        .sendmail(
            "s@example.org",
            &["reject-1@example.org", "reject-2@example.org"],
            b"x\r\n",
            &[],
            &[],
        )
        .await
        .unwrap_err();
    let Error::RecipientsRefused { recipients } = e else {
        panic!("{e:?}")
    };
    assert_eq!(recipients.len(), 2);
    // The session survives refusals.
    assert_eq!(smtp.noop().await.unwrap().code().get(), 250);
    smtp.quit().await.unwrap();
}

#[tokio::test]
async fn postfix_simple_commands() {
    let Some(s) = servers() else { return };
    let mut smtp = s
        .builder()
        .connect(&s.addr("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap();
    assert_eq!(smtp.greeting().unwrap().code().get(), 220);
    assert!(smtp.does_esmtp());
    assert!(smtp.ehlo_resp().is_some());
    assert_eq!(smtp.noop().await.unwrap().code().get(), 250);
    assert_eq!(smtp.rset().await.unwrap().code().get(), 250);
    let v = smtp.verify("someone@example.org").await.unwrap();
    assert!([250, 252, 550].contains(&v.code().get()), "{v}");
    let h = smtp.help(None).await.unwrap();
    assert!(h.code().get() >= 200, "{h}");
    let d = smtp.docmd("NOOP", "").await.unwrap();
    assert_eq!(d.code().get(), 250);
    assert_eq!(smtp.ehlo().await.unwrap().code().get(), 250);
    assert!(matches!(
        smtp.docmd("NOOP\r\nQUIT", "").await,
        Err(Error::Usage(UsageError::InvalidCommand(_)))
    ));
    assert_eq!(smtp.quit().await.unwrap().code().get(), 221);
}

#[tokio::test]
async fn postfix_send_message_strips_bcc() {
    let Some(s) = servers() else { return };
    let mut smtp = s
        .builder()
        .starttls(TlsPolicy::Required)
        .connect(&s.addr("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap();
    let tok = token("bcc");
    let msg = format!(
        "From: Me <me@example.org>\r\nTo: to@example.org\r\nBcc: hidden@example.org\r\nSubject: {tok}\r\n\r\nbody\r\n"
    );
    let (env, report) = smtp
        .send_message_reader(msg.as_bytes(), None, None)
        .await
        .unwrap();
    assert_eq!(env.recipients.len(), 2);
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let (eml, env_lines) = postfix_delivery(&s, &final_text(&report));
    let stored = String::from_utf8_lossy(strip_received(&eml)).into_owned();
    assert!(!stored.contains("Bcc"), "{stored}");
    assert!(stored.contains(&tok));
    assert!(env_lines.contains(&"rcpt hidden@example.org".to_owned()));
    assert_eq!(env_lines[0], "sender me@example.org");
    // The in-memory form gives smtplib's refused map.
    let refused = smtp.send_message(msg.as_bytes(), None, None).await.unwrap();
    assert!(refused.is_empty());
    smtp.quit().await.unwrap();
}

#[tokio::test]
async fn postfix_implicit_tls_and_verification() {
    let Some(s) = servers() else { return };
    let addr = s.addr("SMTP_TEST_POSTFIX_TLS_PORT");
    let mut smtp = s.builder().implicit_tls().connect(&addr).await.unwrap();
    assert!(smtp.is_tls());
    smtp.login(&s.user(), &s.password()).await.unwrap();
    let refused = smtp
        .sendmail(
            "a@example.org",
            &["b@example.org"],
            b"Subject: 465\r\n\r\nx\r\n",
            &[],
            &[],
        )
        .await
        .unwrap();
    assert!(refused.is_empty());
    smtp.quit().await.unwrap();

    // Without the test CA the self-signed certificate is refused.
    let e = smtp_tokio::Builder::new()
        .implicit_tls()
        .connect(&addr)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    // The server name is separate from the address and is verified.
    let e = s
        .builder()
        .implicit_tls()
        .tls_server_name("wrong.example")
        .connect(&addr)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    let smtp = s
        .builder()
        .implicit_tls()
        .tls_server_name("localhost")
        .connect(&addr)
        .await
        .unwrap();
    assert!(smtp.is_tls());
    // A caller-supplied connector (smtplib's `context`) is used as is.
    let smtp = smtp_tokio::Builder::new()
        .tls_connector(own_connector(&s))
        .implicit_tls()
        .connect(&addr)
        .await
        .unwrap();
    assert!(smtp.is_tls());
}

#[tokio::test]
async fn postfix_send_many_pipelines_a_batch() {
    let Some(s) = servers() else { return };
    let mut smtp = s
        .builder()
        .connect(&s.addr("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap();
    let tok = token("batch");
    let messages: Vec<(Envelope, Vec<u8>)> = (0..20)
        .map(|i| {
            let to = if i == 7 {
                "reject-7@example.org".to_owned()
            } else {
                format!("batch{i}@example.org")
            };
            let body = format!("Subject: {tok}-{i}\r\n\r\nmessage {i}\r\n").into_bytes();
            (envelope("s@example.org", &[&to]), body)
        })
        .collect();
    let results = smtp.send_many(&messages).await;
    assert_eq!(results.len(), 20);
    for (i, r) in results.iter().enumerate() {
        let report = r.as_ref().unwrap();
        if i == 7 {
            assert_eq!(report.outcome, TxnOutcome::AllRecipientsRefused);
            continue;
        }
        assert_eq!(report.outcome, TxnOutcome::Delivered, "message {i}");
        let (eml, _) = postfix_delivery(&s, &final_text(report));
        let stored = String::from_utf8_lossy(&eml).into_owned();
        assert!(
            stored.contains(&format!("{tok}-{i}\n")),
            "message {i}: {stored}"
        );
    }
    assert!(smtp.is_connected());
    smtp.quit().await.unwrap();
}

/// A body source that produces `len` bytes of lines in small pieces,
/// holding nothing but a counter (constant memory).
struct Lines {
    left: usize,
    n: usize,
}

impl Lines {
    /// The line at position `n`: dots at line starts, CRLF, lone LF.
    fn line(n: usize) -> String {
        match n % 4 {
            0 => format!(".dot line {n}\r\n"),
            1 => format!("lone lf {n}\n"),
            2 => format!("..two dots {n}\r\n"),
            _ => format!("plain {n:08}\r\n"),
        }
    }
}

impl AsyncRead for Lines {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.left > 0 && buf.remaining() >= 64 {
            let line = Lines::line(self.n);
            self.n += 1;
            self.left = self.left.saturating_sub(line.len());
            buf.put_slice(line.as_bytes());
        }
        Poll::Ready(Ok(()))
    }
}

fn lines_normalised(count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for n in 0..count {
        out.extend_from_slice(
            Lines::line(n)
                .replace("\r\n", "\n")
                .replace('\n', "\r\n")
                .as_bytes(),
        );
    }
    out
}

#[tokio::test]
async fn aiosmtpd_starttls_auth_streamed_body_is_byte_exact() {
    let Some(s) = servers() else { return };
    let mut smtp = s
        .builder()
        .starttls(TlsPolicy::Required)
        .connect(&s.addr("SMTP_TEST_AIOSMTPD_PORT"))
        .await
        .unwrap();
    smtp.login(&s.user(), &s.password()).await.unwrap();
    let mut source = Lines {
        left: 3 * 1024 * 1024,
        n: 0,
    };
    let env = envelope("from@example.org", &["to@example.org"]);
    let report = smtp
        .send_report(&env, &mut source, BodyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let (eml, json) = aiosmtpd_delivery(&s, &final_text(&report));
    let want = lines_normalised(source.n);
    assert_eq!(eml.len(), want.len());
    assert!(eml == want, "stored bytes differ from the normalised body");
    assert!(json.contains("\"tls\": true"), "{json}");
    assert!(json.contains("\"auth_login\": \"tester\""), "{json}");
    smtp.quit().await.unwrap();
}

#[tokio::test]
async fn aiosmtpd_implicit_tls_with_auth_callback() {
    let Some(s) = servers() else { return };
    let mut smtp = s
        .builder()
        .implicit_tls()
        .connect(&s.addr("SMTP_TEST_AIOSMTPD_TLS_PORT"))
        .await
        .unwrap();
    let (user, password) = (s.user(), s.password());
    let mut rounds = 0;
    let reply = smtp
        .auth("LOGIN", |challenge| {
            rounds += 1;
            match challenge {
                None => None,
                Some(b"Username:") => Some(user.clone().into_bytes()),
                Some(_) => Some(password.clone().into_bytes()),
            }
        })
        .await
        .unwrap();
    assert_eq!(reply.code().get(), 235);
    assert_eq!(rounds, 3);
    smtp.quit().await.unwrap();
}

#[tokio::test]
async fn plaintext_password_and_missing_starttls_are_refused() {
    let Some(s) = servers() else { return };
    // smtp-sink offers AUTH PLAIN LOGIN without TLS: refused locally.
    let mut smtp = s
        .builder()
        .connect(&s.addr("SMTP_TEST_SINK_PORT"))
        .await
        .unwrap();
    let e = smtp.login("u", "p").await.unwrap_err();
    assert!(
        matches!(e, Error::Usage(UsageError::PlaintextAuthRefused(_))),
        "{e:?}"
    );
    assert!(smtp.is_connected());
    // ... and no STARTTLS: under Required nothing but QUIT follows.
    let e = s
        .builder()
        .starttls(TlsPolicy::Required)
        .connect(&s.addr("SMTP_TEST_SINK_PORT"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TlsRequired { reply: None }), "{e:?}");
    // Opportunistic carries on in plaintext.
    let smtp = s
        .builder()
        .starttls(TlsPolicy::Opportunistic)
        .connect(&s.addr("SMTP_TEST_SINK_PORT"))
        .await
        .unwrap();
    assert!(!smtp.is_tls());
    // aiosmtpd offers AUTH only after STARTTLS.
    let mut smtp = s
        .builder()
        .connect(&s.addr("SMTP_TEST_AIOSMTPD_PORT"))
        .await
        .unwrap();
    assert!(matches!(
        smtp.login("u", "p").await,
        Err(Error::NotSupported(_))
    ));
    smtp.starttls().await.unwrap();
    assert!(smtp.is_tls());
    smtp.login(&s.user(), &s.password()).await.unwrap();
}

async fn lmtp_per_recipient(target: &str) {
    let Some(s) = servers() else { return };
    let mut lmtp = s.builder().lmtp().connect(target).await.unwrap();
    assert!(lmtp.is_lmtp());
    let tok = token("lmtp");
    let msg = format!("From: a@example.org\r\nSubject: {tok}\r\n\r\nper recipient\r\n");
    let env = envelope(
        "a@example.org",
        &[
            "alice@example.org",
            "nobody@example.org",
            "overquota@example.org",
            "bob@example.org",
        ],
    );
    let report = lmtp
        .send_report(&env, msg.as_bytes(), BodyOptions::for_body(msg.as_bytes()))
        .await
        .unwrap();
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let codes: Vec<(Option<u16>, Option<u16>)> = report
        .recipients
        .iter()
        .map(|r| {
            (
                r.rcpt_reply.as_ref().map(|x| x.code().get()),
                r.delivery_reply.as_ref().map(|x| x.code().get()),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (Some(250), Some(250)),
            (Some(550), None),
            (Some(250), Some(552)),
            (Some(250), Some(250)),
        ]
    );
    assert!(maildir_message(&s, "alice", &tok).is_some());
    assert!(maildir_message(&s, "bob", &tok).is_some());
    // smtplib's view: the refused map holds the RCPT and the final refusal.
    let refused = lmtp
        .sendmail(
            "a@example.org",
            &["alice@example.org", "overquota@example.org"],
            msg.as_bytes(),
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused["overquota@example.org"].code().get(), 552);
    lmtp.quit().await.unwrap();
    let _ = DeliveryScope::AllAccepted;
}

#[tokio::test]
async fn lmtp_per_recipient_over_tcp() {
    let Some(s) = servers() else { return };
    lmtp_per_recipient(&s.addr("SMTP_TEST_LMTP_PORT")).await;
}

#[tokio::test]
async fn lmtp_per_recipient_over_unix_socket() {
    let Some(s) = servers() else { return };
    lmtp_per_recipient(&s.var("SMTP_TEST_LMTP_SOCKET")).await;
}

#[tokio::test]
async fn postfix_mail_rcpt_data_step_by_step() {
    let Some(s) = servers() else { return };
    let mut smtp = s
        .builder()
        .connect(&s.addr("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap();
    assert!(matches!(
        smtp.rcpt("x@example.org", &[]).await,
        Err(Error::Usage(UsageError::NoOpenEnvelope))
    ));
    let tok = token("steps");
    assert_eq!(
        smtp.mail("a@example.org", &["SIZE=100"])
            .await
            .unwrap()
            .code()
            .get(),
        250
    );
    assert_eq!(
        smtp.rcpt("one@example.org", &[])
            .await
            .unwrap()
            .code()
            .get(),
        250
    );
    assert_eq!(
        smtp.rcpt("reject-2@example.org", &[])
            .await
            .unwrap()
            .code()
            .get(),
        550
    );
    let reply = smtp
        .data(format!("Subject: {tok}\r\n\r\n.leading dot\r\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(reply.code().get(), 250);
    let (eml, env_lines) = postfix_delivery(&s, &reply.text_lossy());
    assert_eq!(env_lines[1..], ["rcpt one@example.org".to_owned()]);
    assert!(String::from_utf8_lossy(&eml).ends_with(&format!("Subject: {tok}\n\n.leading dot\n")));
    // A refused MAIL: RCPT and DATA still go out and get the server's word.
    assert_eq!(
        smtp.mail("reject-s@example.org", &[])
            .await
            .unwrap()
            .code()
            .get(),
        550
    );
    assert_eq!(
        smtp.rcpt("b@example.org", &[]).await.unwrap().code().get(),
        503
    );
    let e = smtp.data(b"x\r\n").await.unwrap_err();
    assert!(matches!(e, Error::DataError { .. }), "{e:?}");
    // An envelope left open is closed by RSET.
    smtp.mail("a@example.org", &[]).await.unwrap();
    smtp.rset().await.unwrap();
    assert!(matches!(
        smtp.data(b"x\r\n").await,
        Err(Error::Usage(UsageError::NoOpenEnvelope))
    ));
    smtp.quit().await.unwrap();
}

#[tokio::test]
async fn smtputf8_addresses_on_aiosmtpd_and_postfix() {
    let Some(s) = servers() else { return };
    let (from, to) = ("jörg@exämple.org", "ñandú@example.org");
    let msg = "From: jörg@exämple.org\r\nSubject: ünïcode\r\n\r\nGrüße\r\n";
    let mut smtp = s
        .builder()
        .connect(&s.addr("SMTP_TEST_AIOSMTPD_PORT"))
        .await
        .unwrap();
    let report = smtp
        .send_report(
            &envelope(from, &[to]),
            msg.as_bytes(),
            BodyOptions::for_body(msg.as_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let (eml, json) = aiosmtpd_delivery(&s, &final_text(&report));
    assert_eq!(eml, msg.as_bytes());
    assert!(json.contains("\"smtp_utf8\": true"), "{json}");
    assert!(json.contains(&format!("SIZE={}", msg.len())), "{json}");

    let mut smtp = s
        .builder()
        .connect(&s.addr("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap();
    let refused = smtp
        .sendmail(from, &[to], msg.as_bytes(), &[], &[])
        .await
        .unwrap();
    assert!(refused.is_empty());
}

/// TLS by default: a plain `Builder::new()` runs STARTTLS on its own (the
/// real Postfix offers it) and refuses to go on where it is missing
/// (smtp-sink), sending nothing but QUIT.
#[tokio::test]
async fn builder_requires_tls_by_default() {
    let Some(s) = servers() else { return };
    let name = smtp_tokio::smtp_proto::Domain::parse("client.test").unwrap();
    let mut c = smtp_tokio::Builder::new()
        .add_root_certificate(s.ca())
        .local_hostname(name.clone())
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap();
    assert!(c.is_tls(), "STARTTLS ran without being asked for");
    assert_eq!(c.noop().await.unwrap().code().get(), 250);
    c.quit().await.unwrap();
    let e = smtp_tokio::Builder::new()
        .local_hostname(name)
        .connect_port(&s.host(), s.port("SMTP_TEST_SINK_PORT"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, smtp_tokio::Error::TlsRequired { reply: None }),
        "{e:?}"
    );
}

/// A connector of the caller's own that trusts the test CA, of the backend
/// this build uses by default (rustls when it is compiled in).
#[cfg(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots"))]
fn own_connector(s: &common::Servers) -> smtp_tokio::Connector {
    use smtp_tokio::rustls::pki_types::CertificateDer;
    use smtp_tokio::rustls::pki_types::pem::PemObject;
    use smtp_tokio::rustls::{ClientConfig, RootCertStore};
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&s.ca_pem()).unwrap())
        .unwrap();
    #[allow(deprecated)]
    let provider = smtp_tokio::rustls::crypto::ring::default_provider();
    ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
        .into()
}

/// A connector of the caller's own that trusts the test CA (native-tls).
#[cfg(all(
    feature = "native-tls",
    not(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots"))
))]
fn own_connector(s: &common::Servers) -> smtp_tokio::Connector {
    smtp_tokio::native_tls::TlsConnector::builder()
        .add_root_certificate(smtp_tokio::native_tls::Certificate::from_pem(&s.ca_pem()).unwrap())
        .build()
        .unwrap()
        .into()
}
