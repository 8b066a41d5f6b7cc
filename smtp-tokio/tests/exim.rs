//! PRDR against the project's Exim (`scripts/test-servers.sh`): each
//! recipient gets its own reply after the data, with DATA and with BDAT,
//! one message at a time, in a pipelined batch and through the pool, and
//! Exim stores the message for exactly the recipients it accepted. Fails
//! under `CI=true` when Exim is not running.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{PrdrCase, ServersExt, exim_servers};
use smtp_tokio::smtp_proto::{BodyOptions, TxnOutcome};
use smtp_tokio::{Pool, PoolConfig, SmtpClient, TlsPolicy};

async fn connect(s: &common::Servers, chunking: bool) -> SmtpClient {
    let c = s
        .builder()
        .starttls(TlsPolicy::Required)
        .chunking(chunking)
        .connect(&s.addr("SMTP_TEST_EXIM_PORT"))
        .await
        .unwrap();
    assert!(c.has_extn("prdr"), "Exim offers PRDR");
    c
}

#[tokio::test]
async fn prdr_with_data_and_with_bdat() {
    let Some(s) = exim_servers() else { return };
    for chunking in [false, true] {
        let mut c = connect(&s, chunking).await;
        let case = PrdrCase::new(if chunking { "prdr-bdat" } else { "prdr-data" });
        let report = c
            .send_report(
                &case.envelope,
                case.message.as_slice(),
                BodyOptions::default(),
            )
            .await
            .unwrap();
        case.check(&s, &report);
        c.quit().await.unwrap();
    }
}

#[tokio::test]
async fn prdr_in_a_pipelined_batch() {
    let Some(s) = exim_servers() else { return };
    let mut c = connect(&s, true).await;
    let cases: Vec<PrdrCase> = (0..4)
        .map(|i| PrdrCase::new(&format!("batch{i}")))
        .collect();
    let messages: Vec<_> = cases
        .iter()
        .map(|k| (k.envelope.clone(), k.message.clone()))
        .collect();
    let results = c.send_many(&messages).await;
    for (case, result) in cases.iter().zip(&results) {
        case.check(&s, result.as_ref().unwrap());
    }
    assert!(c.is_connected());
    c.quit().await.unwrap();
}

#[tokio::test]
async fn prdr_through_the_pool() {
    let Some(s) = exim_servers() else { return };
    let pool = Pool::new(
        s.builder().starttls(TlsPolicy::Required),
        &s.addr("SMTP_TEST_EXIM_PORT"),
        PoolConfig::default(),
    );
    let cases: Vec<PrdrCase> = (0..6).map(|i| PrdrCase::new(&format!("pool{i}"))).collect();
    let messages: Vec<_> = cases
        .iter()
        .map(|k| (k.envelope.clone(), k.message.clone()))
        .collect();
    let results = pool.send_many(&messages).await;
    for (case, result) in cases.iter().zip(&results) {
        case.check(&s, result.as_ref().unwrap());
    }
    pool.close().await;
}

#[tokio::test]
async fn without_prdr_one_reply_speaks_for_everyone() {
    let Some(s) = exim_servers() else { return };
    let mut c = s
        .builder()
        .starttls(TlsPolicy::Required)
        .prdr(false)
        .connect(&s.addr("SMTP_TEST_EXIM_PORT"))
        .await
        .unwrap();
    let case = PrdrCase::new("noprdr");
    let report = c
        .send_report(
            &case.envelope,
            case.message.as_slice(),
            BodyOptions::default(),
        )
        .await
        .unwrap();
    // Exim's rule refuses the whole message when it cannot refuse one copy.
    assert_eq!(report.outcome, TxnOutcome::MessageRefused);
    assert_eq!(report.message_reply, None);
    c.quit().await.unwrap();
}
