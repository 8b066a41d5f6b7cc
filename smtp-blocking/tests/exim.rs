//! PRDR against the project's Exim (`scripts/test-servers.sh`): each
//! recipient gets its own reply after the data, with DATA and with BDAT,
//! one message at a time and in a pipelined batch, and Exim stores the
//! message for exactly the recipients it accepted. Fails under `CI=true`
//! when Exim is not running.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{PrdrCase, ServersExt, exim_servers};
use smtp_blocking::smtp_proto::{BodyOptions, TxnOutcome};
use smtp_blocking::{SmtpClient, TlsPolicy};

fn connect(s: &common::Servers, chunking: bool) -> SmtpClient {
    let c = s
        .builder()
        .starttls(TlsPolicy::Required)
        .chunking(chunking)
        .connect_port(&s.host(), s.exim_port())
        .unwrap();
    assert!(c.has_extn("prdr"), "Exim offers PRDR");
    c
}

#[test]
fn prdr_with_data_and_with_bdat() {
    let Some(s) = exim_servers() else { return };
    for chunking in [false, true] {
        let mut c = connect(&s, chunking);
        assert!(c.has_extn("chunking"));
        let case = PrdrCase::new(if chunking { "prdr-bdat" } else { "prdr-data" });
        let report = c
            .send_report(
                &case.envelope,
                case.message.as_slice(),
                BodyOptions::default(),
            )
            .unwrap();
        case.check(&s, &report);
        c.quit().unwrap();
    }
}

#[test]
fn prdr_in_a_pipelined_batch() {
    let Some(s) = exim_servers() else { return };
    let mut c = connect(&s, true);
    let cases: Vec<PrdrCase> = (0..4)
        .map(|i| PrdrCase::new(&format!("batch{i}")))
        .collect();
    let messages: Vec<_> = cases
        .iter()
        .map(|k| (k.envelope.clone(), k.message.clone()))
        .collect();
    let results = c.send_many(&messages);
    for (case, result) in cases.iter().zip(&results) {
        case.check(&s, result.as_ref().unwrap());
    }
    assert!(c.is_connected());
    c.quit().unwrap();
}

#[test]
fn smtplib_sendmail_reports_the_recipient_refused_after_the_data() {
    let Some(s) = exim_servers() else { return };
    let mut c = connect(&s, true);
    let case = PrdrCase::new("sendmail");
    let to: Vec<String> = case
        .envelope
        .recipients
        .iter()
        .map(|r| r.to.mailbox().unwrap().to_string())
        .collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let refused = c
        .sendmail("sender@example.org", to.as_slice(), &case.message, &[], &[])
        .unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let (address, reply) = refused.iter().next().unwrap();
    assert_eq!(address, to[1]);
    assert_eq!(reply.code().get(), 550);
    c.quit().unwrap();
}

#[test]
fn without_prdr_one_reply_speaks_for_everyone() {
    let Some(s) = exim_servers() else { return };
    let mut c = s
        .builder()
        .starttls(TlsPolicy::Required)
        .prdr(false)
        .connect_port(&s.host(), s.exim_port())
        .unwrap();
    let case = PrdrCase::new("noprdr");
    let report = c
        .send_report(
            &case.envelope,
            case.message.as_slice(),
            BodyOptions::default(),
        )
        .unwrap();
    // Exim's rule refuses the whole message when it cannot refuse one copy.
    assert_eq!(report.outcome, TxnOutcome::MessageRefused);
    assert_eq!(report.message_reply, None);
    // The connection is still good for the next message.
    let kept: &str = &case.kept[0];
    let refused = c
        .sendmail(
            "sender@example.org",
            &[kept],
            b"Subject: ok\r\n\r\nx\r\n",
            &[],
            &[],
        )
        .unwrap();
    assert!(refused.is_empty());
    c.quit().unwrap();
}
