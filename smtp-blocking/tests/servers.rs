//! Integration tests against the project's real servers
//! (`scripts/test-servers.sh`): Postfix, Dovecot LMTP and aiosmtpd. Each
//! test skips with a note when the `SMTP_TEST_*` variables are missing, and
//! fails under `CI=true`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Read;
use std::time::Duration;

use common::{
    ServersExt, aiosmtpd_delivery, maildir_message, postfix_delivery, servers, strip_received,
    token,
};
use smtp_blocking::smtp_proto::auth::{CramMd5, Login, Plain, ScramSha256};
use smtp_blocking::smtp_proto::{BodyOptions, Envelope, ForwardPath, ReversePath, TxnOutcome};
use smtp_blocking::{Builder, Error, SmtpClient, TlsPolicy};

fn final_text(report: &smtp_blocking::smtp_proto::TxnReport) -> String {
    report
        .recipients
        .iter()
        .find_map(|r| r.delivery_reply.as_ref())
        .expect("a final reply")
        .text_lossy()
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(
        ReversePath::parse(from).unwrap(),
        to.iter().map(|t| ForwardPath::parse(t).unwrap()),
    )
}

#[test]
fn postfix_starttls_login_send_and_quit() {
    let Some(s) = servers() else { return };
    let mut c = s
        .builder()
        .starttls(TlsPolicy::Required)
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    assert!(c.is_tls());
    assert!(c.has_extn("auth"), "AUTH is offered after STARTTLS");
    c.login(&s.user(), &s.password()).unwrap();
    let tok = token("starttls");
    let msg = format!("Subject: {tok}\r\n\r\nbody\r\n");
    let report = c
        .send_report(
            &envelope("a@example.org", &["b@example.org"]),
            msg.as_bytes(),
            BodyOptions::default(),
        )
        .unwrap();
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let (eml, env) = postfix_delivery(&s, &final_text(&report));
    assert_eq!(strip_received(&eml), msg.replace("\r\n", "\n").as_bytes());
    assert_eq!(env[0], "sender a@example.org");
    assert_eq!(c.quit().unwrap().code().get(), 221);
}

/// SCRAM-SHA-256 against Dovecot's SASL behind Postfix (`auth_mechanisms`
/// includes `scram-sha-256` in `scripts/test-servers.sh`). Dovecot 2.3 does
/// not implement SCRAM-SHA-256-PLUS (no channel binding), so the
/// -PLUS path is covered by the scripted peers in `tests/scram.rs` only.
#[test]
fn postfix_dovecot_scram_sha_256() {
    let Some(s) = servers() else { return };
    let connect = || {
        s.builder()
            .starttls(TlsPolicy::Required)
            .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
            .unwrap()
    };
    let mut c = connect();
    let offered = c.esmtp_features().unwrap().auth_mechanisms().to_vec();
    assert!(
        offered.iter().any(|m| m == "SCRAM-SHA-256"),
        "Dovecot behind Postfix offers SCRAM-SHA-256: {offered:?}"
    );
    // login picks SCRAM-SHA-256 over PLAIN and LOGIN: a wrong password is
    // refused for that mechanism, and nothing else is tried after the 535.
    let e = c.login(&s.user(), "wrong").unwrap_err();
    match &e {
        Error::AuthenticationError { mechanism, reply } => {
            assert_eq!(mechanism, "SCRAM-SHA-256");
            assert_eq!(reply.code().get(), 535);
        }
        other => panic!("{other:?}"),
    }
    // ...and the right one succeeds (the server's signature verified).
    let mut c = connect();
    assert_eq!(c.login(&s.user(), &s.password()).unwrap().code().get(), 235);
    assert_eq!(c.noop().unwrap().code().get(), 250);
    c.quit().unwrap();
    // An explicit ScramSha256 through authenticate.
    let mut c = connect();
    let mut scram = ScramSha256::new(&s.user(), &s.password()).unwrap();
    assert_eq!(c.authenticate(&mut scram).unwrap().code().get(), 235);
    c.quit().unwrap();
    let mut c = connect();
    let mut scram = ScramSha256::new(&s.user(), "wrong").unwrap();
    let e = c.authenticate(&mut scram).unwrap_err();
    assert!(matches!(&e, Error::AuthenticationError { .. }), "{e:?}");
    assert_eq!(e.smtp_code(), Some(535));
}

#[test]
fn aiosmtpd_starttls_each_auth_mechanism() {
    let Some(s) = servers() else { return };
    let port = s.port("SMTP_TEST_AIOSMTPD_PORT");
    let mut mechanisms: Vec<Box<dyn smtp_blocking::smtp_proto::auth::Authenticator>> = vec![
        Box::new(Plain::new(&s.user(), &s.password())),
        Box::new(Login::new(&s.user(), &s.password())),
        Box::new(CramMd5::new(&s.user(), &s.password())),
    ];
    for auth in &mut mechanisms {
        let mut c = s
            .builder()
            .starttls(TlsPolicy::Required)
            .connect_port(&s.host(), port)
            .unwrap();
        let ok = c.authenticate(auth.as_mut()).unwrap();
        assert_eq!(ok.code().get(), 235);
        let report = c
            .send_report(
                &envelope("a@example.org", &["b@example.org"]),
                &b"Subject: t\r\n\r\nx\r\n"[..],
                BodyOptions::default(),
            )
            .unwrap();
        let (_, json) = aiosmtpd_delivery(&s, &final_text(&report));
        assert!(json.contains("\"auth_login\": \"tester\""), "{json}");
        assert!(json.contains("\"tls\": true"), "{json}");
    }
    // A wrong password is an authentication error and the session lives on.
    let mut c = s
        .builder()
        .starttls(TlsPolicy::Required)
        .connect_port(&s.host(), port)
        .unwrap();
    let e = c.login(&s.user(), "wrong").unwrap_err();
    assert!(matches!(&e, Error::AuthenticationError { .. }), "{e:?}");
    assert_eq!(e.smtp_code(), Some(535));
    assert_eq!(c.noop().unwrap().code().get(), 250);
}

#[test]
fn implicit_tls_on_postfix_and_aiosmtpd() {
    let Some(s) = servers() else { return };
    for port in ["SMTP_TEST_POSTFIX_TLS_PORT", "SMTP_TEST_AIOSMTPD_TLS_PORT"] {
        let mut c = s
            .builder()
            .implicit_tls()
            .connect(&format!("{}:{}", s.host(), s.port(port)))
            .unwrap();
        assert!(c.is_tls());
        c.login(&s.user(), &s.password()).unwrap();
        let refused = c
            .sendmail(
                "a@example.org",
                &["b@example.org"],
                b"Subject: tls\r\n\r\nx\r\n",
                &[],
                &[],
            )
            .unwrap();
        assert!(refused.is_empty());
        c.quit().unwrap();
    }
}

#[test]
fn certificate_verification_failures() {
    let Some(s) = servers() else { return };
    // System roots only: the self-signed test certificate is not trusted.
    let e = Builder::new()
        .implicit_tls()
        .timeout(Duration::from_secs(30))
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_TLS_PORT"))
        .unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    // Same over STARTTLS: the handshake fails, nothing is sent after it.
    let e = Builder::new()
        .starttls(TlsPolicy::Required)
        .timeout(Duration::from_secs(30))
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    // The right CA but another name.
    let e = s
        .builder()
        .implicit_tls()
        .tls_server_name("mail.example.com")
        .connect_port(&s.host(), s.port("SMTP_TEST_AIOSMTPD_TLS_PORT"))
        .unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    // The server name may differ from the connect address: verify "localhost"
    // while connecting to 127.0.0.1.
    let c = s
        .builder()
        .implicit_tls()
        .tls_server_name("localhost")
        .connect_port(&s.host(), s.port("SMTP_TEST_AIOSMTPD_TLS_PORT"))
        .unwrap();
    assert!(c.is_tls());
    // Turning verification off needs the dangerous option.
    let c = Builder::new()
        .implicit_tls()
        .dangerous_accept_invalid_certs(true)
        .connect_port(&s.host(), s.port("SMTP_TEST_AIOSMTPD_TLS_PORT"))
        .unwrap();
    assert!(c.is_tls());
}

#[test]
fn smtputf8_addresses() {
    let Some(s) = servers() else { return };
    let from = "jörg@exämple.org";
    let to = "ñandú@example.org";
    let msg = "From: jörg@exämple.org\r\nSubject: ünïcode\r\n\r\nGrüße\r\n";
    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_AIOSMTPD_PORT"))
        .unwrap();
    let report = c
        .send_report(
            &envelope(from, &[to]),
            msg.as_bytes(),
            BodyOptions::for_body(msg.as_bytes()),
        )
        .unwrap();
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let (eml, json) = aiosmtpd_delivery(&s, &final_text(&report));
    assert_eq!(eml, msg.as_bytes());
    assert!(json.contains("SMTPUTF8"), "{json}");
    assert!(json.contains("\"smtp_utf8\": true"), "{json}");
    // SIZE= is declared (the server offers SIZE) with the normalised size.
    assert!(json.contains(&format!("SIZE={}", msg.len())), "{json}");

    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    let report = c
        .send_report(
            &envelope(from, &[to]),
            msg.as_bytes(),
            BodyOptions::for_body(msg.as_bytes()),
        )
        .unwrap();
    let (_, env) = postfix_delivery(&s, &final_text(&report));
    assert_eq!(env[0], format!("sender {from}"));
    assert_eq!(env[1], format!("rcpt {to}"));
}

#[test]
fn three_recipients_one_refused() {
    let Some(s) = servers() else { return };
    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    let to = [
        "one@example.org",
        "reject-two@example.org",
        "three@example.org",
    ];
    let tok = token("three");
    let msg = format!("Subject: {tok}\r\n\r\nx\r\n");
    let report = c
        .send_report(
            &envelope("a@example.org", &to),
            msg.as_bytes(),
            BodyOptions::default(),
        )
        .unwrap();
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let (_, env) = postfix_delivery(&s, &final_text(&report));
    let mut rcpts: Vec<&str> = env[1..].iter().map(String::as_str).collect();
    rcpts.sort_unstable();
    assert_eq!(rcpts, ["rcpt one@example.org", "rcpt three@example.org"]);

    // smtplib's view: the refused map.
    let refused = c
        .sendmail("a@example.org", &to, msg.as_bytes(), &[], &[])
        .unwrap();
    assert_eq!(refused.len(), 1);
    let reply = &refused["reject-two@example.org"];
    assert_eq!(reply.code().get(), 550);
    assert_eq!(reply.enhanced_code().unwrap().to_string(), "5.1.1");
    // All refused is an error with the full map.
    let e = c
        .sendmail(
            "a@example.org",
            &["reject-x@example.org", "tempfail-y@example.org"],
            msg.as_bytes(),
            &[],
            &[],
        )
        .unwrap_err();
    let Error::RecipientsRefused { recipients } = e else {
        panic!("{e:?}")
    };
    assert_eq!(recipients["tempfail-y@example.org"].code().get(), 450);
    let e = c
        .sendmail(
            "reject-me@example.org",
            &["b@example.org"],
            msg.as_bytes(),
            &[],
            &[],
        )
        .unwrap_err();
    assert!(matches!(e, Error::SenderRefused { .. }), "{e:?}");
    assert_eq!(c.noop().unwrap().code().get(), 250);
}

/// Deterministic text: numbered lines, some starting with dots, some long.
struct Generated {
    left: usize,
    line: u64,
    pending: Vec<u8>,
}

impl Generated {
    fn new(size: usize) -> Self {
        Generated {
            left: size,
            line: 0,
            pending: Vec::new(),
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() && self.left > 0 {
            self.line += 1;
            let n = self.line;
            let text = match n % 7 {
                0 => format!(".line {n} starts with a dot\r\n"),
                1 => format!("..{n}\r\n"),
                3 => format!("{}{n}\r\n", "x".repeat((n % 900) as usize)),
                _ => format!("line {n} of the streamed message\r\n"),
            };
            self.pending = text.into_bytes();
            self.pending.truncate(self.left);
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        self.left -= n;
        Ok(n)
    }
}

fn big_message(tok: &str, size: usize) -> Vec<u8> {
    let mut m = format!("Subject: {tok}\r\n\r\n").into_bytes();
    Generated::new(size).read_to_end(&mut m).unwrap();
    if !m.ends_with(b"\r\n") {
        m.extend_from_slice(b"\r\n");
    }
    m
}

#[test]
fn twenty_megabytes_streamed_byte_exact() {
    let Some(s) = servers() else { return };
    let size = 20 * 1024 * 1024;
    let tok = token("big");
    let head = format!("Subject: {tok}\r\n\r\n");
    let body = std::io::Cursor::new(head.clone().into_bytes())
        .chain(Generated::new(size))
        .chain(&b"\r\n"[..]);
    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    let report = c
        .send_report(
            &envelope("a@example.org", &["big@example.org"]),
            body,
            BodyOptions::default(),
        )
        .unwrap();
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let (eml, _) = postfix_delivery(&s, &final_text(&report));
    let mut want = big_message(&tok, size);
    if want.ends_with(b"\r\n\r\n") {
        want.truncate(want.len() - 2);
    }
    let want: Vec<u8> = String::from_utf8(want)
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    let got = strip_received(&eml);
    assert_eq!(got.len(), want.len());
    assert!(got == want.as_slice(), "stored message differs");
}

#[test]
fn bdat_with_postfix_and_data_with_aiosmtpd_keep_dots_and_bytes() {
    let Some(s) = servers() else { return };
    let tok = token("bdat");
    // Small chunks: several BDAT commands, then BDAT LAST.
    let config = smtp_blocking::smtp_proto::Config::default().with_bdat_chunk_size(4096);
    let msg = big_message(&tok, 50_000);
    let mut c = s
        .builder()
        .config(config)
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    assert!(c.has_extn("CHUNKING"));
    let report = c
        .send_report(
            &envelope("a@example.org", &["b@example.org"]),
            &msg[..],
            BodyOptions::default(),
        )
        .unwrap();
    let text = final_text(&report);
    assert!(text.contains("bytes queued as"), "BDAT LAST reply: {text}");
    let (eml, _) = postfix_delivery(&s, &text);
    let want = String::from_utf8(msg.clone())
        .unwrap()
        .replace("\r\n", "\n");
    assert_eq!(strip_received(&eml), want.as_bytes());

    // aiosmtpd stores the exact DATA bytes, dot-unstuffed.
    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_AIOSMTPD_PORT"))
        .unwrap();
    let report = c
        .send_report(
            &envelope("a@example.org", &["b@example.org"]),
            &msg[..],
            BodyOptions::default(),
        )
        .unwrap();
    let (eml, _) = aiosmtpd_delivery(&s, &final_text(&report));
    assert!(eml == msg, "aiosmtpd stored different bytes");
}

fn lmtp_per_recipient(c: &mut SmtpClient, s: &common::Servers) {
    assert!(c.is_lmtp());
    let tok = token("lmtp");
    let msg = format!("Subject: {tok}\r\n\r\nhello\r\n");
    let over = s.var("SMTP_TEST_LMTP_OVERQUOTA_USER");
    let to = [
        "alice@example.org".to_owned(),
        "bob@example.org".to_owned(),
        format!("{over}@example.org"),
    ];
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let report = c
        .send_report(
            &envelope("a@example.org", &to),
            msg.as_bytes(),
            BodyOptions::default(),
        )
        .unwrap();
    let codes: Vec<u16> = report
        .recipients
        .iter()
        .map(|r| r.delivery_reply.as_ref().unwrap().code().get())
        .collect();
    assert_eq!(codes, [250, 250, 552]);
    assert!(maildir_message(s, "alice", &tok).is_some());
    assert!(maildir_message(s, "bob", &tok).is_some());
    // smtplib's view: the over-quota recipient is refused, with its reply.
    let refused = c
        .sendmail("a@example.org", &to, msg.as_bytes(), &[], &[])
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[to[2]].code().get(), 552);
    // Unknown users are refused at RCPT.
    let e = c
        .sendmail(
            "a@example.org",
            &["nobody-here@example.org"],
            msg.as_bytes(),
            &[],
            &[],
        )
        .unwrap_err();
    assert!(matches!(e, Error::RecipientsRefused { .. }), "{e:?}");
}

#[test]
fn lmtp_per_recipient_results_over_tcp() {
    let Some(s) = servers() else { return };
    let mut c = s
        .builder()
        .lmtp()
        .connect(&format!("{}:{}", s.host(), s.port("SMTP_TEST_LMTP_PORT")))
        .unwrap();
    lmtp_per_recipient(&mut c, &s);
    c.quit().unwrap();
}

#[test]
fn lmtp_per_recipient_results_over_unix_socket() {
    let Some(s) = servers() else { return };
    let mut c = SmtpClient::connect_lmtp(&s.var("SMTP_TEST_LMTP_SOCKET")).unwrap();
    lmtp_per_recipient(&mut c, &s);
    c.quit().unwrap();
}

#[test]
fn send_message_takes_the_envelope_from_headers_and_strips_bcc() {
    let Some(s) = servers() else { return };
    let tok = token("bcc");
    let msg = format!(
        "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nCc: carol@example.org\r\n\
         Bcc: hidden@example.org,\r\n secret@example.org\r\nSubject: {tok}\r\n\r\nbody\r\n"
    );
    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    let (env_used, report) = c.send_message_reader(msg.as_bytes(), None, None).unwrap();
    assert_eq!(env_used.recipients.len(), 4);
    let (eml, env) = postfix_delivery(&s, &final_text(&report));
    let stored = String::from_utf8(strip_received(&eml).to_vec()).unwrap();
    assert!(!stored.contains("Bcc"), "{stored}");
    assert!(!stored.contains("hidden@"), "{stored}");
    assert!(stored.contains(&tok));
    assert_eq!(env[0], "sender alice@example.org");
    let mut rcpts: Vec<&str> = env[1..].iter().map(String::as_str).collect();
    rcpts.sort_unstable();
    assert_eq!(
        rcpts,
        [
            "rcpt bob@example.org",
            "rcpt carol@example.org",
            "rcpt hidden@example.org",
            "rcpt secret@example.org"
        ]
    );
    // The in-memory form gives smtplib's refused map.
    let refused = c.send_message(msg.as_bytes(), None, None).unwrap();
    assert!(refused.is_empty());
}

#[test]
fn vrfy_expn_help_noop_rset_docmd_and_quit() {
    let Some(s) = servers() else { return };
    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    let v = c.verify("tester@example.org").unwrap();
    assert!(
        v.code().get() == 252 || v.code().get() == 250 || v.code().get() >= 500,
        "{v}"
    );
    let e = c.expn("list").unwrap();
    assert!(e.code().get() >= 250, "{e}");
    let h = c.help(None).unwrap();
    assert!(h.code().get() >= 200, "{h}");
    assert_eq!(c.noop().unwrap().code().get(), 250);
    assert_eq!(c.rset().unwrap().code().get(), 250);
    assert_eq!(c.docmd("NOOP", "").unwrap().code().get(), 250);
    assert_eq!(c.ehlo().unwrap().code().get(), 250);
    assert!(c.ehlo_resp().is_some());
    assert!(c.does_esmtp());
    assert_eq!(c.helo().unwrap().code().get(), 250);
    assert!(c.helo_resp().is_some());
    assert!(!c.does_esmtp());
    c.ehlo_or_helo_if_needed().unwrap();
    let q = c.quit().unwrap();
    assert_eq!(q.code().get(), 221);
    assert!(matches!(c.noop(), Err(Error::ServerDisconnected { .. })));
}

#[test]
fn postfix_mail_rcpt_data_step_by_step() {
    let Some(s) = servers() else { return };
    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    let tok = token("steps");
    let msg = format!("Subject: {tok}\r\n\r\n.leading dot\r\nend\r\n");
    let size = format!("SIZE={}", msg.len());
    let r = c.mail("a@example.org", &[&size, "BODY=8BITMIME"]).unwrap();
    assert_eq!(r.code().get(), 250);
    let r = c.rcpt("one@example.org", &["NOTIFY=NEVER"]).unwrap();
    assert_eq!(r.code().get(), 250);
    let r = c.rcpt("reject-two@example.org", &[]).unwrap();
    assert_eq!(r.code().get(), 550);
    assert_eq!(r.enhanced_code().unwrap().to_string(), "5.1.1");
    let r = c.data(msg.as_bytes()).unwrap();
    assert_eq!(r.code().get(), 250);
    let (eml, env) = postfix_delivery(&s, &r.text_lossy());
    assert_eq!(strip_received(&eml), msg.replace("\r\n", "\n").as_bytes());
    assert_eq!(env[0], "sender a@example.org");
    assert_eq!(env[1..], ["rcpt one@example.org"]);

    // A refused sender: RCPT and DATA are still sent, as smtplib sends
    // them, and Postfix's refusal of DATA is the DataError.
    assert_eq!(
        c.mail("reject-me@example.org", &[]).unwrap().code().get(),
        550
    );
    assert_eq!(c.rcpt("b@example.org", &[]).unwrap().code().get(), 503);
    let e = c.data(msg.as_bytes()).unwrap_err();
    assert!(
        matches!(&e, Error::DataError { reply } if reply.code().get() == 503),
        "{e:?}"
    );
    // An envelope left open is closed by RSET.
    assert_eq!(c.mail("a@example.org", &[]).unwrap().code().get(), 250);
    assert_eq!(c.rset().unwrap().code().get(), 250);
    assert!(c.engine().is_idle());
    assert_eq!(c.noop().unwrap().code().get(), 250);
    assert_eq!(c.quit().unwrap().code().get(), 221);
}

/// TLS by default: a plain `Builder::new()` runs STARTTLS on its own (the
/// real Postfix offers it) and refuses to go on where it is missing
/// (smtp-sink), sending nothing but QUIT.
#[test]
fn builder_requires_tls_by_default() {
    let Some(s) = servers() else { return };
    let name = smtp_blocking::smtp_proto::Domain::parse("client.test").unwrap();
    let mut c = smtp_blocking::Builder::new()
        .add_root_certificate(s.ca())
        .local_hostname(name.clone())
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    assert!(c.is_tls(), "STARTTLS ran without being asked for");
    assert_eq!(c.noop().unwrap().code().get(), 250);
    c.quit().unwrap();
    let e = smtp_blocking::Builder::new()
        .local_hostname(name)
        .connect_port(&s.host(), s.port("SMTP_TEST_SINK_PORT"))
        .unwrap_err();
    assert!(matches!(e, Error::TlsRequired { reply: None }), "{e:?}");
}

/// A client without TLS pointed at an implicit-TLS port (the server waits
/// for a TLS ClientHello) hears nothing: the error says what is likely
/// wrong instead of "disconnected".
#[test]
fn plaintext_client_on_an_implicit_tls_port_gets_a_hint() {
    let Some(s) = servers() else { return };
    let e = s
        .builder()
        .timeout(Duration::from_secs(2))
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_TLS_PORT"))
        .unwrap_err();
    assert!(matches!(e, Error::NoGreeting { .. }), "{e:?}");
    assert!(e.to_string().contains("implicit TLS"), "{e}");
}

/// The Rust-first `send`: `Ok` only when every recipient got the message;
/// one refused of three is an error that still carries the report, and the
/// other two really got it.
#[test]
fn send_is_ok_only_when_everyone_got_it() {
    let Some(s) = servers() else { return };
    let mut c = s
        .builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .unwrap();
    let tok = token("rustfirst");
    let msg = format!("Subject: {tok}\r\n\r\nx\r\n");
    let all = c
        .send(
            &envelope("a@example.org", &["one@example.org"]),
            msg.as_bytes(),
        )
        .unwrap();
    assert!(all.all_delivered());
    let to = [
        "one@example.org",
        "reject-two@example.org",
        "three@example.org",
    ];
    let e = c
        .send(&envelope("a@example.org", &to), msg.as_bytes())
        .unwrap_err();
    let Error::NotDelivered { report } = &e else {
        panic!("{e:?}")
    };
    assert!(e.to_string().contains("reject-two@example.org"), "{e}");
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    assert_eq!(report.refused().count(), 1);
    let (_, env) = postfix_delivery(&s, &final_text(report));
    let mut rcpts: Vec<&str> = env[1..].iter().map(String::as_str).collect();
    rcpts.sort_unstable();
    assert_eq!(rcpts, ["rcpt one@example.org", "rcpt three@example.org"]);
    assert!(c.is_connected(), "a refusal is not a broken session");
}
