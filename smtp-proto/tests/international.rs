//! Internationalized addresses (RFC 6531) and REQUIRETLS (RFC 8689) as
//! transcripts: an internationalized domain reaches a server without
//! SMTPUTF8 in A-labels; a non-ASCII local part needs SMTPUTF8; REQUIRETLS
//! goes only over TLS to a server that offers it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use smtp_proto::{
    BodyOptions, Config, Domain, Envelope, Event, ForwardPath, MailParams, ReversePath, TxnOutcome,
    UsageError,
};

fn envelope(from: &str, rcpts: &[&str]) -> Envelope {
    Envelope::new(
        ReversePath::parse(from).unwrap(),
        rcpts.iter().map(|r| ForwardPath::parse(r).unwrap()),
    )
}

fn delivered(t: &mut common::Harness) -> TxnOutcome {
    match t.events().last() {
        Some(Event::TransactionFinished { report, .. }) => report.outcome,
        other => panic!("expected TransactionFinished, got {other:?}"),
    }
}

#[test]
fn a_labels_are_what_idna_gives() {
    let d = Domain::parse("bücher.example").unwrap();
    assert_eq!(d.to_ascii().unwrap().as_str(), "xn--bcher-kva.example");
    let ascii = Domain::parse("example.org").unwrap();
    assert_eq!(ascii.to_ascii().unwrap(), ascii);
}

// No SMTPUTF8 offered: the domains go as A-labels, MAIL declares nothing,
// and the report keeps the caller's spelling.
transcript!(
    internationalized_domains_go_as_a_labels,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING", "8BITMIME"]);
        let env = envelope("a@bücher.example", &["b@münchen.example", "c@example.org"]);
        let _ = t
            .cmd(|c| c.send_mail(&env, BodyOptions::default()))
            .unwrap();
        t.expect_sent(
            "MAIL FROM:<a@xn--bcher-kva.example> BODY=8BITMIME\r\n\
             RCPT TO:<b@xn--mnchen-3ya.example>\r\n\
             RCPT TO:<c@example.org>\r\n\
             DATA\r\n",
        );
        t.server_ok("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
        let _ = t.events();
        t.cmd(|c| c.send_body(b"hi\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("hi\r\n.\r\n");
        t.server_ok("250 queued\r\n");
        let events = t.events();
        let Some(Event::TransactionFinished { report, .. }) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(report.outcome, TxnOutcome::Delivered);
        assert_eq!(
            report.recipients[0].address.to_string(),
            "<b@münchen.example>"
        );
    }
);

// A non-ASCII local part has no ASCII form: without SMTPUTF8 nothing is
// queued, and the error names the extension.
transcript!(
    a_non_ascii_local_part_needs_smtputf8,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING"]);
        let env = envelope("a@example.org", &["josé@bücher.example"]);
        assert_eq!(
            t.cmd(|c| c.send_mail(&env, BodyOptions::default())),
            Err(UsageError::ExtensionNotAdvertised("SMTPUTF8"))
        );
        t.expect_sent("");
        assert!(t.client.is_idle());
    }
);

// With SMTPUTF8 offered the addresses go as written, and MAIL says so.
transcript!(
    with_smtputf8_addresses_go_as_written,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING", "SMTPUTF8"]);
        let env = envelope("a@bücher.example", &["josé@example.org"]);
        let _ = t
            .cmd(|c| c.send_mail(&env, BodyOptions::default()))
            .unwrap();
        t.expect_sent(
            "MAIL FROM:<a@bücher.example> SMTPUTF8\r\nRCPT TO:<josé@example.org>\r\nDATA\r\n",
        );
        t.server_ok("250 ok\r\n250 ok\r\n354 go\r\n");
        let _ = t.events();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent(".\r\n");
        t.server_ok("250 queued\r\n");
        assert_eq!(delivered(t), TxnOutcome::Delivered);
    }
);

// The step-by-step calls (`mail`, `rcpt`) fall back the same way.
transcript!(
    incremental_envelope_falls_back_to_a_labels,
    Config::default(),
    |t| {
        t.ready(&[]);
        let from = ReversePath::parse("a@bücher.example").unwrap();
        let txn = t.cmd(|c| c.mail(from, MailParams::default())).unwrap();
        t.expect_sent("MAIL FROM:<a@xn--bcher-kva.example>\r\n");
        t.server_ok("250 ok\r\n");
        let to = ForwardPath::parse("b@münchen.example").unwrap();
        let _ = t.cmd(|c| c.rcpt(txn, to, Default::default())).unwrap();
        t.expect_sent("RCPT TO:<b@xn--mnchen-3ya.example>\r\n");
        let to = ForwardPath::parse("josé@example.org").unwrap();
        assert_eq!(
            t.cmd(|c| c.rcpt(txn, to, Default::default())),
            Err(UsageError::SmtpUtf8NotDeclared)
        );
    }
);

// REQUIRETLS (RFC 8689 §4.1): offered only after STARTTLS; refused before
// anything is queued on a plaintext connection, sent as a MAIL parameter
// over TLS.
transcript!(requiretls_only_over_tls, Config::default(), |t| {
    t.ready(&["PIPELINING", "REQUIRETLS"]);
    let mut env = envelope("a@example.org", &["b@example.org"]);
    env.params.requiretls = true;
    assert_eq!(
        t.cmd(|c| c.send_mail(&env, BodyOptions::default())),
        Err(UsageError::ExtensionNotAdvertised("REQUIRETLS"))
    );
    t.expect_sent("");
    t.client.set_tls(true);
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    t.expect_sent("MAIL FROM:<a@example.org> REQUIRETLS\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    t.server_ok("250 ok\r\n250 ok\r\n354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent(".\r\n");
    t.server_ok("250 queued\r\n");
    assert_eq!(delivered(t), TxnOutcome::Delivered);
});
