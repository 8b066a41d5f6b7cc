//! smtplib's step-by-step envelope: `mail`, `rcpt` and `data` one call at a
//! time. Every command the caller asks for is sent, refusals or not (the
//! server answers); the DATA path, LMTP counting and pipelining are those
//! of `send_mail`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use smtp_proto::command::CommandError;
use smtp_proto::{
    BodyOptions, BodyType, Config, DeliveryScope, Envelope, Event, ForwardPath, MailParams, RcptId,
    RcptParams, ReversePath, TxnId, TxnOutcome, TxnReport, UsageError,
};

fn from(addr: &str) -> ReversePath {
    ReversePath::parse(addr).unwrap()
}

fn to(addr: &str) -> ForwardPath {
    ForwardPath::parse(addr).unwrap()
}

fn codes(t: &mut common::Harness) -> Vec<String> {
    t.events()
        .into_iter()
        .map(|e| match e {
            Event::MailReply { reply, .. } => format!("mail {}", reply.code().get()),
            Event::RcptReply { rcpt, reply, .. } => {
                format!("rcpt{} {}", rcpt.0, reply.code().get())
            }
            Event::ReadyForBody { .. } => "body".to_owned(),
            Event::DeliveryReply { scope, reply, .. } => {
                format!("delivery {scope:?} {}", reply.code().get())
            }
            Event::TransactionFinished { report, .. } => format!("finished {:?}", report.outcome),
            Event::Reply { reply, .. } => format!("reply {}", reply.code().get()),
            e => format!("{e:?}"),
        })
        .collect()
}

fn finished(t: &mut common::Harness, txn: TxnId) -> TxnReport {
    let evs = t.events();
    evs.into_iter()
        .find_map(|e| match e {
            Event::TransactionFinished { txn: got, report } if got == txn => Some(report),
            _ => None,
        })
        .expect("TransactionFinished")
}

transcript!(
    mail_rcpt_rcpt_data_one_recipient_refused,
    Config::default(),
    |t| {
        t.ready(&["8BITMIME", "SIZE 1000"]);
        let mut params = MailParams::new();
        params.size = Some(20);
        let txn = t.cmd(|c| c.mail(from("Smith@bar.com"), params)).unwrap();
        // Sent as given: SIZE from the caller, no BODY= added.
        t.expect_sent("MAIL FROM:<Smith@bar.com> SIZE=20\r\n");
        t.server_ok("250 OK\r\n");
        assert_eq!(codes(t), ["mail 250"]);
        assert_eq!(
            t.cmd(|c| c.rcpt(txn, to("Jones@foo.com"), RcptParams::new())),
            Ok(RcptId(0))
        );
        t.expect_sent("RCPT TO:<Jones@foo.com>\r\n");
        t.server_ok("250 OK\r\n");
        assert_eq!(codes(t), ["rcpt0 250"]);
        assert_eq!(
            t.cmd(|c| c.rcpt(txn, to("Green@foo.com"), RcptParams::new())),
            Ok(RcptId(1))
        );
        t.expect_sent("RCPT TO:<Green@foo.com>\r\n");
        t.server_ok("550 No such user here\r\n");
        assert_eq!(codes(t), ["rcpt1 550"]);
        t.cmd(|c| c.data(txn)).unwrap();
        t.expect_sent("DATA\r\n");
        t.server_ok("354 Start mail input; end with <CRLF>.<CRLF>\r\n");
        assert_eq!(codes(t), ["body"]);
        t.cmd(|c| c.send_body(b"Blah\n.dot\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("Blah\r\n..dot\r\n.\r\n");
        t.server_ok("250 OK queued\r\n");
        let evs = t.events();
        assert!(matches!(
            &evs[0],
            Event::DeliveryReply {
                scope: DeliveryScope::AllAccepted,
                ..
            }
        ));
        let Event::TransactionFinished { report, .. } = &evs[1] else {
            panic!("{evs:?}")
        };
        assert_eq!(report.outcome, TxnOutcome::Delivered);
        assert_eq!(report.recipients.len(), 2);
        assert_eq!(report.delivered().count(), 1);
        assert_eq!(report.refused().count(), 1);
        assert!(t.client.is_idle());
    }
);

transcript!(
    refused_mail_still_sends_rcpt_and_rset_ends_the_txn,
    Config::default(),
    |t| {
        t.ready(&[]);
        let txn = t
            .cmd(|c| c.mail(from("reject@bar.com"), MailParams::new()))
            .unwrap();
        t.expect_sent("MAIL FROM:<reject@bar.com>\r\n");
        t.server_ok("550 5.7.1 Sender rejected\r\n");
        assert_eq!(codes(t), ["mail 550"]);
        // Not skipped, unlike send_mail: the caller asked for it.
        t.cmd(|c| c.rcpt(txn, to("a@foo.com"), RcptParams::new()))
            .unwrap();
        t.expect_sent("RCPT TO:<a@foo.com>\r\n");
        t.server_ok("503 5.5.1 Error: need MAIL command\r\n");
        assert_eq!(codes(t), ["rcpt0 503"]);
        assert!(!t.client.is_idle());
        // RSET closes the envelope: its report comes at once (every reply
        // is in), then RSET's own reply.
        let _ = t.cmd(|c| c.rset()).unwrap();
        assert_eq!(codes(t), ["finished SenderRefused"]);
        t.expect_sent("RSET\r\n");
        t.server_ok("250 2.0.0 Ok\r\n");
        assert_eq!(codes(t), ["reply 250"]);
        assert!(t.client.is_idle());
        assert_eq!(
            t.cmd(|c| c.rcpt(txn, to("b@foo.com"), RcptParams::new())),
            Err(UsageError::NoOpenEnvelope)
        );
        assert_eq!(t.cmd(|c| c.data(txn)), Err(UsageError::NoOpenEnvelope));
    }
);

transcript!(
    data_is_sent_without_accepted_recipients,
    Config::default(),
    |t| {
        t.ready(&[]);
        let txn = t
            .cmd(|c| c.mail(from("Smith@bar.com"), MailParams::new()))
            .unwrap();
        t.cmd(|c| c.rcpt(txn, to("nobody@foo.com"), RcptParams::new()))
            .unwrap();
        t.cmd(|c| c.data(txn)).unwrap();
        t.expect_sent("MAIL FROM:<Smith@bar.com>\r\n");
        t.server_ok("250 OK\r\n");
        t.expect_sent("RCPT TO:<nobody@foo.com>\r\n");
        t.server_ok("550 5.1.1 no\r\n");
        // Lock-step, and still DATA: the server has the last word.
        t.expect_sent("DATA\r\n");
        t.server_ok("554 5.5.1 Error: no valid recipients\r\n");
        let evs = codes(t);
        assert_eq!(
            evs,
            ["mail 250", "rcpt0 550", "finished AllRecipientsRefused"]
        );
        t.expect_sent("RSET\r\n");
        t.server_ok("250 OK\r\n");
        t.no_event();
        assert!(t.client.is_idle());

        // A server that says 354 anyway gets a lone "." (RFC 2920 §3.1).
        let txn = t
            .cmd(|c| c.mail(from("Smith@bar.com"), MailParams::new()))
            .unwrap();
        t.cmd(|c| c.rcpt(txn, to("nobody@foo.com"), RcptParams::new()))
            .unwrap();
        t.cmd(|c| c.data(txn)).unwrap();
        for reply in ["250 OK\r\n", "550 no\r\n", "354 go\r\n"] {
            t.server_ok(reply);
        }
        assert_eq!(
            t.sent(),
            "MAIL FROM:<Smith@bar.com>\r\nRCPT TO:<nobody@foo.com>\r\nDATA\r\n.\r\n"
        );
        t.server_ok("554 no message\r\n");
        assert_eq!(
            codes(t),
            ["mail 250", "rcpt0 550", "finished AllRecipientsRefused"]
        );
        assert!(t.client.is_idle());
    }
);

transcript!(
    refused_data_ends_the_txn_and_resets,
    Config::default(),
    |t| {
        t.ready(&[]);
        let txn = t
            .cmd(|c| c.mail(from("Smith@bar.com"), MailParams::new()))
            .unwrap();
        t.cmd(|c| c.rcpt(txn, to("a@foo.com"), RcptParams::new()))
            .unwrap();
        t.server_ok("250 OK\r\n");
        t.server_ok("250 OK\r\n");
        t.cmd(|c| c.data(txn)).unwrap();
        t.expect_sent("MAIL FROM:<Smith@bar.com>\r\nRCPT TO:<a@foo.com>\r\nDATA\r\n");
        t.server_ok("451 4.3.0 try later\r\n");
        let report = finished(t, txn);
        assert_eq!(report.outcome, TxnOutcome::DataRefused);
        assert_eq!(report.data_reply.unwrap().code().get(), 451);
        t.expect_sent("RSET\r\n");
        assert_eq!(
            t.cmd(|c| c.send_body(b"x")),
            Err(UsageError::NoBodyExpected)
        );
        t.server_ok("250 OK\r\n");
        t.no_event();
        assert!(t.client.is_idle());
    }
);

transcript!(lmtp_one_reply_per_accepted_recipient, Config::lmtp(), |t| {
    t.ready(&["PIPELINING"]);
    let txn = t
        .cmd(|c| c.mail(from("chris@bar.com"), MailParams::new()))
        .unwrap();
    for r in ["pat@foo.edu", "jones@foo.edu", "green@foo.edu"] {
        t.cmd(|c| c.rcpt(txn, to(r), RcptParams::new())).unwrap();
    }
    t.cmd(|c| c.data(txn)).unwrap();
    t.expect_sent(
        "MAIL FROM:<chris@bar.com>\r\nRCPT TO:<pat@foo.edu>\r\n\
         RCPT TO:<jones@foo.edu>\r\nRCPT TO:<green@foo.edu>\r\nDATA\r\n",
    );
    t.server_ok("250 OK\r\n250 OK\r\n550 No such user here\r\n250 OK\r\n354 go\r\n");
    assert_eq!(
        codes(t),
        ["mail 250", "rcpt0 250", "rcpt1 550", "rcpt2 250", "body"]
    );
    t.cmd(|c| c.send_body(b"hi\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("hi\r\n.\r\n");
    t.server_ok("250 OK\r\n");
    assert_eq!(codes(t), ["delivery Recipient(RcptId(0)) 250"]);
    t.server_ok("452 <green@foo.edu> is temporarily over quota\r\n");
    assert_eq!(
        codes(t),
        ["delivery Recipient(RcptId(2)) 452", "finished Delivered"]
    );
    assert!(t.client.is_idle());
});

transcript!(no_rcpt_or_data_after_data, Config::default(), |t| {
    t.ready(&[]);
    let txn = t
        .cmd(|c| c.mail(from("Smith@bar.com"), MailParams::new()))
        .unwrap();
    t.cmd(|c| c.rcpt(txn, to("a@foo.com"), RcptParams::new()))
        .unwrap();
    t.cmd(|c| c.data(txn)).unwrap();
    assert_eq!(
        t.cmd(|c| c.rcpt(txn, to("b@foo.com"), RcptParams::new())),
        Err(UsageError::NoOpenEnvelope)
    );
    assert_eq!(t.cmd(|c| c.data(txn)), Err(UsageError::NoOpenEnvelope));
    // Nor for a transaction from send_mail.
    let env = Envelope::new(from("x@bar.com"), [to("y@foo.com")]);
    let other = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    assert_eq!(
        t.cmd(|c| c.rcpt(other, to("b@foo.com"), RcptParams::new())),
        Err(UsageError::NoOpenEnvelope)
    );
    assert_eq!(t.cmd(|c| c.data(other)), Err(UsageError::NoOpenEnvelope));
    t.expect_sent("MAIL FROM:<Smith@bar.com>\r\n");
});

transcript!(
    pipelined_mail_rcpt_data_leave_in_one_write,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING", "8BITMIME"]);
        let mut params = MailParams::new();
        params.body = Some(BodyType::EightBitMime);
        let txn = t.cmd(|c| c.mail(from("Smith@bar.com"), params)).unwrap();
        t.cmd(|c| c.rcpt(txn, to("a@foo.com"), RcptParams::new()))
            .unwrap();
        t.cmd(|c| c.rcpt(txn, to("b@foo.com"), RcptParams::new()))
            .unwrap();
        t.cmd(|c| c.data(txn)).unwrap();
        t.expect_sent(
            "MAIL FROM:<Smith@bar.com> BODY=8BITMIME\r\nRCPT TO:<a@foo.com>\r\n\
             RCPT TO:<b@foo.com>\r\nDATA\r\n",
        );
        t.server_ok("250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n");
        assert_eq!(codes(t), ["mail 250", "rcpt0 250", "rcpt1 250", "body"]);
        // BODY=8BITMIME was declared: 8-bit bytes may go.
        t.cmd(|c| c.send_body("caf\u{e9}\r\n".as_bytes())).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        assert_eq!(t.sent_bytes(), "caf\u{e9}\r\n.\r\n".as_bytes());
        t.server_ok("250 OK\r\n");
        assert_eq!(codes(t), ["delivery AllAccepted 250", "finished Delivered"]);
    }
);

transcript!(
    pipelined_rset_reports_the_envelope_before_its_reply,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING"]);
        let txn = t
            .cmd(|c| c.mail(from("Smith@bar.com"), MailParams::new()))
            .unwrap();
        t.cmd(|c| c.rcpt(txn, to("a@foo.com"), RcptParams::new()))
            .unwrap();
        let _ = t.cmd(|c| c.rset()).unwrap();
        t.expect_sent("MAIL FROM:<Smith@bar.com>\r\nRCPT TO:<a@foo.com>\r\nRSET\r\n");
        t.no_event();
        t.server_ok("250 OK\r\n250 OK\r\n250 OK\r\n");
        assert_eq!(
            codes(t),
            ["mail 250", "rcpt0 250", "finished Aborted", "reply 250"]
        );
        assert!(t.client.is_idle());
    }
);

transcript!(
    a_new_mail_closes_the_open_envelope,
    Config::default(),
    |t| {
        t.ready(&[]);
        let first = t
            .cmd(|c| c.mail(from("Smith@bar.com"), MailParams::new()))
            .unwrap();
        t.server_ok("250 OK\r\n");
        assert_eq!(codes(t), ["mail 250"]);
        let second = t
            .cmd(|c| c.mail(from("Jones@bar.com"), MailParams::new()))
            .unwrap();
        assert_eq!(codes(t), ["finished Aborted"]);
        assert_eq!(
            t.cmd(|c| c.rcpt(first, to("a@foo.com"), RcptParams::new())),
            Err(UsageError::NoOpenEnvelope)
        );
        t.expect_sent("MAIL FROM:<Smith@bar.com>\r\nMAIL FROM:<Jones@bar.com>\r\n");
        // The server still holds the first transaction: its answer is the
        // caller's to read.
        t.server_ok("503 5.5.1 Error: nested MAIL command\r\n");
        assert_eq!(codes(t), ["mail 503"]);
        let _ = t.cmd(|c| c.rset()).unwrap();
        let report = finished(t, second);
        assert_eq!(report.outcome, TxnOutcome::SenderRefused);
    }
);

transcript!(
    parameters_are_checked_before_queueing,
    Config::default(),
    |t| {
        t.ready(&["8BITMIME", "SIZE 100"]);
        let mut p = MailParams::new();
        p.body = Some(BodyType::BinaryMime);
        assert!(matches!(
            t.cmd(|c| c.mail(from("a@bar.com"), p)),
            Err(UsageError::InvalidCommand(
                CommandError::InvalidParameter { .. }
            ))
        ));
        let mut p = MailParams::new();
        p.size = Some(101);
        assert_eq!(
            t.cmd(|c| c.mail(from("a@bar.com"), p)),
            Err(UsageError::MessageTooLarge {
                size: 101,
                limit: 100
            })
        );
        assert_eq!(
            t.cmd(|c| c.mail(from("j\u{f6}rg@bar.com"), MailParams::new())),
            Err(UsageError::ExtensionNotAdvertised("SMTPUTF8"))
        );
        let txn = t
            .cmd(|c| c.mail(from("a@bar.com"), MailParams::new()))
            .unwrap();
        let mut rp = RcptParams::new();
        rp.notify = Some(smtp_proto::command::Notify::NEVER);
        assert_eq!(
            t.cmd(|c| c.rcpt(txn, to("b@foo.com"), rp)),
            Err(UsageError::ExtensionNotAdvertised("DSN"))
        );
        assert_eq!(
            t.cmd(|c| c.rcpt(txn, to("\u{f1}and\u{fa}@foo.com"), RcptParams::new())),
            Err(UsageError::SmtpUtf8NotDeclared)
        );
        assert_eq!(
            t.cmd(|c| c.rcpt(txn, to("b@foo.com"), RcptParams::new())),
            Ok(RcptId(0))
        );
        t.expect_sent("MAIL FROM:<a@bar.com>\r\n");
    }
);

transcript!(
    smtputf8_is_declared_when_an_address_needs_it,
    Config::default(),
    |t| {
        t.ready(&["SMTPUTF8", "8BITMIME"]);
        let txn = t
            .cmd(|c| c.mail(from("j\u{f6}rg@bar.com"), MailParams::new()))
            .unwrap();
        t.cmd(|c| c.rcpt(txn, to("\u{f1}and\u{fa}@foo.com"), RcptParams::new()))
            .unwrap();
        assert_eq!(t.sent(), "MAIL FROM:<j\u{f6}rg@bar.com> SMTPUTF8\r\n");
    }
);
