//! Reply deadlines (RFC 5321 §4.5.3.2, rule 10): each fires exactly at
//! its deadline, partial input never extends it, and no deadline runs while
//! the caller (not the server) is expected to act.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use common::Harness;
use smtp_proto::{
    BodyOptions, Config, Envelope, Error, Event, ForwardPath, Mechanism, ReversePath, Secret,
    Stage, Timeouts, TxnOutcome, UsageError,
};

const MS: Duration = Duration::from_millis(1);

const fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn envelope() -> Envelope {
    Envelope::new(
        ReversePath::parse("a@b.example").unwrap(),
        [ForwardPath::parse("c@d.example").unwrap()],
    )
}

fn lockstep() -> BodyOptions {
    BodyOptions::default().with_chunking(false)
}

/// The deadline is `after` from now: nothing happens 1 ms before it, and it
/// fires with `stage` exactly at it. Then the session is dead.
fn expires(t: &mut Harness, after: Duration, stage: Stage) {
    assert_eq!(t.deadline_in(), Some(after), "deadline for {stage:?}");
    assert_eq!(t.advance(after - MS), Ok(()));
    assert_eq!(t.deadline_in(), Some(MS));
    t.no_event();
    t.expect_sent("");
    let expected = Error::Timeout { stage };
    assert_eq!(t.advance(MS), Err(expected.clone()));
    // A timeout poisons the session (rules 10, 12).
    assert_eq!(t.client.error(), Some(&expected));
    assert!(t.client.is_closed());
    assert_eq!(t.client.poll_timeout(), None);
    assert_eq!(t.advance(MS), Err(expected.clone()));
    assert_eq!(t.feed("250 OK\r\n"), Err(expected.clone()));
    assert_eq!(t.eof(), Err(expected));
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::Closed));
    t.expect_sent("");
}

/// Ready, then `d` of idle time, so that deadlines visibly start when their
/// command goes out rather than at connect time.
fn ready_later(t: &mut Harness, caps: &[&str], d: Duration) {
    t.ready(caps);
    assert_eq!(t.client.poll_timeout(), None, "idle: no deadline");
    assert_eq!(t.advance(d), Ok(()));
}

// §4.5.3.2.1 Initial 220 Message: 5 minutes.
transcript!(greeting_deadline, Config::default(), |t| {
    expires(t, mins(5), Stage::Greeting);
    t.no_event();
});

transcript!(
    greeting_deadline_not_moved_by_partial_greeting,
    Config::default(),
    |t| {
        assert_eq!(t.advance(mins(4)), Ok(()));
        t.server_ok("220-mx.example.org\r\n220 still typ");
        expires(t, mins(1), Stage::Greeting);
    }
);

// A server that drips one byte a minute cannot hold the client beyond the
// deadline of the reply it owes.
transcript!(slow_drip_greeting, Config::default(), |t| {
    let greeting = b"220 mx.example.org ESMTP\r\n";
    for b in &greeting[..5] {
        t.server_ok(std::slice::from_ref(b));
        assert_eq!(t.advance(Duration::from_secs(59)), Ok(()));
        assert_eq!(
            t.advance(Duration::from_secs(1)).is_err(),
            t.now - t.start >= mins(5)
        );
    }
    assert_eq!(
        t.client.error(),
        Some(&Error::Timeout {
            stage: Stage::Greeting
        })
    );
    t.no_event();
    t.expect_sent("");
});

transcript!(slow_drip_ehlo_lines, Config::default(), |t| {
    t.server_ok("220 mx\r\n");
    let _ = t.event();
    t.expect_sent("EHLO localhost\r\n");
    // Whole lines, one a minute: complete lines do not extend the deadline
    // either, only a complete reply ends it.
    for cap in ["PIPELINING", "8BITMIME", "SIZE 100", "DSN"] {
        t.server_ok(format!("250-{cap}\r\n"));
        assert_eq!(t.advance(mins(1)), Ok(()));
    }
    t.server_ok("250-CHUNKING\r\n");
    assert_eq!(t.advance(mins(1) - MS), Ok(()));
    assert_eq!(
        t.advance(MS),
        Err(Error::Timeout {
            stage: Stage::Hello
        })
    );
    t.no_event();
});

// "Other commands": EHLO has 5 minutes, counted from when it was sent.
transcript!(ehlo_deadline, Config::default(), |t| {
    assert_eq!(t.advance(mins(3)), Ok(()));
    t.server_ok("220 mx\r\n");
    let _ = t.event();
    t.expect_sent("EHLO localhost\r\n");
    expires(t, mins(5), Stage::Hello);
});

// §4.5.3.2.2 MAIL Command: 5 minutes.
transcript!(mail_deadline, Config::default(), |t| {
    ready_later(t, &[], mins(30));
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    t.expect_sent("MAIL FROM:<a@b.example>\r\n");
    expires(t, mins(5), Stage::Mail);
    let Event::TransactionFinished { report, .. } = t.event() else {
        panic!()
    };
    assert_eq!(report.outcome, TxnOutcome::Aborted);
});

// §4.5.3.2.3 RCPT Command: 5 minutes, from when RCPT was sent.
transcript!(rcpt_deadline, Config::default(), |t| {
    ready_later(t, &[], mins(1));
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    assert_eq!(t.advance(mins(4)), Ok(()));
    t.server_ok("250 OK\r\n");
    t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    let _ = t.events();
    expires(t, mins(5), Stage::Rcpt);
    let Event::TransactionFinished { report, .. } = t.event() else {
        panic!()
    };
    assert_eq!(report.outcome, TxnOutcome::Aborted);
});

// §4.5.3.2.4 DATA Initiation: 2 minutes.
transcript!(data_init_deadline, Config::default(), |t| {
    ready_later(t, &[], mins(1));
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    t.server_ok("250 OK\r\n");
    t.server_ok("250 OK\r\n");
    t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    let _ = t.events();
    expires(t, mins(2), Stage::DataInit);
    let Event::TransactionFinished { report, .. } = t.event() else {
        panic!()
    };
    assert_eq!(report.outcome, TxnOutcome::Aborted);
});

// §4.5.3.2.5/6: no reply is due while the body is being sent (the data
// block timeout is the adapter's, on its writes); after the final "." the
// client waits 10 minutes, and a timeout then leaves the outcome unknown.
transcript!(
    data_end_deadline_and_unknown_outcome,
    Config::default(),
    |t| {
        t.ready(&[]);
        let txn = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        for r in ["250 OK\r\n", "250 OK\r\n", "354 go ahead\r\n"] {
            t.server_ok(r);
        }
        let _ = t.events();
        let _ = t.sent();
        assert_eq!(
            t.client.poll_timeout(),
            None,
            "body open: the caller owes bytes"
        );
        assert_eq!(t.advance(Duration::from_secs(3600)), Ok(()));
        t.cmd(|c| c.send_body(b"slowly composed\r\n")).unwrap();
        assert_eq!(t.client.poll_timeout(), None);
        assert_eq!(t.advance(Duration::from_secs(3600)), Ok(()));
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("slowly composed\r\n.\r\n");
        assert_eq!(t.deadline_in(), Some(mins(10)));
        assert_eq!(t.advance(mins(10) - MS), Ok(()));
        let r = t.advance(MS);
        assert_eq!(
            r,
            Err(Error::Timeout {
                stage: Stage::DataEnd
            })
        );
        assert!(r.unwrap_err().is_outcome_unknown());
        let Event::TransactionFinished { txn: got, report } = t.event() else {
            panic!()
        };
        assert_eq!(got, txn);
        assert_eq!(report.outcome, TxnOutcome::Unknown);
        assert_eq!(report.recipients[0].delivery_reply, None);
        t.no_event();
        t.expect_sent("");
    }
);

transcript!(
    data_end_deadline_not_moved_by_partial_reply,
    Config::default(),
    |t| {
        t.ready(&[]);
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        for r in ["250 OK\r\n", "250 OK\r\n", "354 go ahead\r\n"] {
            t.server_ok(r);
        }
        let _ = t.events();
        t.cmd(|c| c.finish_body()).unwrap();
        assert_eq!(t.advance(mins(9)), Ok(()));
        t.server_ok("250-2.0.0 queued as");
        assert_eq!(t.advance(mins(1) - MS), Ok(()));
        let r = t.advance(MS);
        assert!(r.unwrap_err().is_outcome_unknown());
    }
);

transcript!(bdat_last_deadline_is_data_end, Config::default(), |t| {
    t.ready(&["CHUNKING"]);
    let _ = t
        .cmd(|c| c.send_mail(&envelope(), BodyOptions::default()))
        .unwrap();
    t.server_ok("250 OK\r\n");
    t.server_ok("250 OK\r\n");
    let _ = t.events();
    t.cmd(|c| c.send_body(b"hi\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    assert_eq!(
        t.sent(),
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4 LAST\r\nhi\r\n"
    );
    expires(t, mins(10), Stage::DataEnd);
    let Event::TransactionFinished { report, .. } = t.event() else {
        panic!()
    };
    assert_eq!(report.outcome, TxnOutcome::Unknown);
});

// Other commands: 5 minutes.
transcript!(noop_deadline, Config::default(), |t| {
    ready_later(t, &[], mins(7));
    let _ = t.cmd(|c| c.noop()).unwrap();
    t.expect_sent("NOOP\r\n");
    expires(t, mins(5), Stage::Command);
});

transcript!(quit_deadline, Config::default(), |t| {
    ready_later(t, &[], mins(7));
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("QUIT\r\n");
    expires(t, mins(5), Stage::Quit);
});

transcript!(
    quit_after_refused_greeting_deadline,
    Config::default(),
    |t| {
        t.server_ok("554 no service\r\n");
        let _ = t.event();
        t.expect_sent("QUIT\r\n");
        expires(t, mins(5), Stage::Quit);
    }
);

transcript!(auth_deadline, Config::default(), |t| {
    ready_later(t, &["AUTH CRAM-MD5"], mins(2));
    let _ = t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)).unwrap();
    t.expect_sent("AUTH CRAM-MD5\r\n");
    expires(t, mins(5), Stage::Auth);
});

// While the caller computes its answer to a challenge nothing is due from
// the server; the deadline starts again when the answer goes out.
transcript!(
    no_deadline_while_challenge_waits_for_caller,
    Config::default(),
    |t| {
        t.ready(&["AUTH CRAM-MD5"]);
        let _ = t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)).unwrap();
        t.expect_sent("AUTH CRAM-MD5\r\n");
        assert_eq!(t.advance(mins(4)), Ok(()));
        t.server_ok("334 PDEyMzQ+\r\n");
        assert!(matches!(t.event(), Event::AuthChallenge { .. }));
        assert_eq!(t.client.poll_timeout(), None);
        assert_eq!(t.advance(Duration::from_secs(3600)), Ok(()));
        t.cmd(|c| c.auth_respond(Secret::new(b"tim 0123".to_vec())))
            .unwrap();
        t.expect_sent("dGltIDAxMjM=\r\n");
        expires(t, mins(5), Stage::Auth);
    }
);

transcript!(client_cancel_rearms_deadline, Config::default(), |t| {
    t.ready(&["AUTH CRAM-MD5"]);
    let _ = t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)).unwrap();
    assert_eq!(t.advance(mins(4)), Ok(()));
    t.server_ok("334 ???\r\n");
    t.expect_sent("AUTH CRAM-MD5\r\n*\r\n");
    expires(t, mins(5), Stage::Auth);
});

// With PIPELINING each command's deadline starts when the reply before it
// completed (Timeouts docs), not when the group was written.
transcript!(
    pipelined_deadlines_follow_the_replies,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING"]);
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
        assert_eq!(t.deadline_in(), Some(mins(5)));
        assert_eq!(t.advance(mins(4)), Ok(()));
        t.server_ok("250 OK\r\n");
        assert_eq!(t.deadline_in(), Some(mins(5)), "RCPT's deadline");
        assert_eq!(t.advance(mins(4)), Ok(()));
        t.server_ok("250 OK\r\n");
        let _ = t.events();
        expires(t, mins(2), Stage::DataInit);
    }
);

transcript!(handle_timeout_early_is_harmless, Config::default(), |t| {
    t.ready(&[]);
    let id = t.cmd(|c| c.noop()).unwrap();
    for _ in 0..10 {
        assert_eq!(t.advance(Duration::from_secs(29)), Ok(()));
    }
    t.server_ok("250 OK\r\n");
    assert!(matches!(t.event(), Event::Reply { id: got, .. } if got == id));
    assert_eq!(t.client.poll_timeout(), None);
    assert_eq!(t.advance(Duration::from_secs(24 * 3600)), Ok(()));
    assert_eq!(t.client.error(), None);
});

fn custom() -> Timeouts {
    let mut t = Timeouts::default();
    t.greeting = Duration::from_secs(11);
    t.mail = Duration::from_secs(22);
    t.rcpt = Duration::from_secs(33);
    t.data_init = Duration::from_secs(44);
    t.data_end = Duration::from_secs(55);
    t.command = Duration::from_secs(66);
    t
}

transcript!(
    custom_timeouts_apply_per_stage,
    Config::default().with_timeouts(custom()),
    |t| {
        let s = Duration::from_secs;
        assert_eq!(t.deadline_in(), Some(s(11)));
        t.server_ok("220 mx\r\n");
        let _ = t.event();
        t.expect_sent("EHLO localhost\r\n");
        assert_eq!(t.deadline_in(), Some(s(66)));
        t.server_ok("250 mx\r\n");
        let _ = t.event();
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        assert_eq!(t.deadline_in(), Some(s(22)));
        t.server_ok("250 OK\r\n");
        assert_eq!(t.deadline_in(), Some(s(33)));
        t.server_ok("250 OK\r\n");
        assert_eq!(t.deadline_in(), Some(s(44)));
        t.server_ok("354 go\r\n");
        assert_eq!(t.deadline_in(), None);
        let _ = t.events();
        t.cmd(|c| c.finish_body()).unwrap();
        assert_eq!(t.deadline_in(), Some(s(55)));
        t.server_ok("250 OK\r\n");
        let _ = t.events();
        assert_eq!(t.deadline_in(), None);
        let _ = t.cmd(|c| c.rset()).unwrap();
        assert_eq!(t.deadline_in(), Some(s(66)));
        t.server_ok("250 OK\r\n");
        let _ = t.events();
        let _ = t.cmd(|c| c.quit()).unwrap();
        let _ = t.sent();
        expires(t, s(66), Stage::Quit);
    }
);

transcript!(
    custom_greeting_timeout,
    Config::default().with_timeouts(custom()),
    |t| {
        expires(t, Duration::from_secs(11), Stage::Greeting);
    }
);

transcript!(
    uniform_timeouts,
    Config::default().with_timeouts(Timeouts::uniform(Duration::from_secs(7))),
    |t| {
        assert_eq!(t.deadline_in(), Some(Duration::from_secs(7)));
        t.ready(&[]);
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\n");
        expires(t, Duration::from_secs(7), Stage::Mail);
    }
);

#[test]
fn default_timeouts_are_the_rfc_minimums() {
    let t = Timeouts::default();
    assert_eq!(t.greeting, mins(5));
    assert_eq!(t.mail, mins(5));
    assert_eq!(t.rcpt, mins(5));
    assert_eq!(t.data_init, mins(2));
    assert_eq!(t.data_block, mins(3));
    assert_eq!(t.data_end, mins(10));
    assert_eq!(t.command, mins(5));
    assert_eq!(Config::default().timeouts, t);
}

// ----- overall deadlines ------------------------------------------------

fn with_txn_deadline(limit: Duration) -> Config {
    Config::default().with_transaction_deadline(Some(limit))
}

// A server that answers each command just inside its own five minutes:
// the transaction deadline (6 minutes from MAIL) still ends the wait, and
// names the deadline and what the client was waiting for. Nothing was
// delivered: the report says Aborted.
transcript!(
    transaction_deadline_bounds_a_slow_server,
    with_txn_deadline(mins(6)),
    |t| {
        ready_later(t, &[], mins(1));
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\n");
        assert_eq!(t.deadline_in(), Some(mins(5)));
        assert_eq!(t.advance(mins(4)), Ok(()));
        t.server_ok("250 OK\r\n");
        t.expect_sent("RCPT TO:<c@d.example>\r\n");
        // The RCPT's own deadline is 5 minutes away; the transaction's 2.
        assert_eq!(t.deadline_in(), Some(mins(2)));
        assert_eq!(t.advance(mins(2) - MS), Ok(()));
        // A dripping server: bytes arrive, no reply completes.
        t.server_ok("25");
        let expected = Error::DeadlineExceeded {
            deadline: smtp_proto::Deadline::Transaction(mins(6)),
            stage: Stage::Rcpt,
        };
        assert_eq!(t.advance(MS), Err(expected.clone()));
        assert!(!expected.is_outcome_unknown());
        let report = match t.events().last() {
            Some(Event::TransactionFinished { report, .. }) => report.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(report.outcome, TxnOutcome::Aborted);
        assert_eq!(t.client.poll_timeout(), None);
        t.expect_sent("");
    }
);

// The transaction deadline also runs while the caller streams the body (no
// reply is awaited then, but the transaction is not done), and after the
// end of data it leaves the outcome unknown.
transcript!(
    transaction_deadline_spans_the_body_and_the_end_of_data,
    with_txn_deadline(mins(3)),
    |t| {
        ready_later(t, &[], mins(1));
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        let _ = t.sent();
        t.server_ok("250 OK\r\n");
        let _ = t.sent();
        t.server_ok("250 OK\r\n");
        t.expect_sent("DATA\r\n");
        t.server_ok("354 go\r\n");
        let _ = t.events();
        assert!(!t.client.is_awaiting_reply());
        assert_eq!(t.deadline_in(), Some(mins(3)));
        assert_eq!(t.advance(mins(2)), Ok(()));
        t.cmd(|c| c.send_body(b"x\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("x\r\n.\r\n");
        assert!(t.client.is_awaiting_reply());
        assert_eq!(t.deadline_in(), Some(mins(1)));
        let err = t.advance(mins(1)).unwrap_err();
        assert_eq!(
            err,
            Error::DeadlineExceeded {
                deadline: smtp_proto::Deadline::Transaction(mins(3)),
                stage: Stage::DataEnd,
            }
        );
        assert!(err.is_outcome_unknown());
        match t.events().last() {
            Some(Event::TransactionFinished { report, .. }) => {
                assert_eq!(report.outcome, TxnOutcome::Unknown)
            }
            other => panic!("{other:?}"),
        }
    }
);

// Each transaction has its own: the second message's clock starts at its
// own MAIL, and a delivered message's deadline is gone.
transcript!(
    transaction_deadline_is_per_transaction,
    with_txn_deadline(mins(3)),
    |t| {
        ready_later(t, &["PIPELINING"], mins(1));
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        let _ = t.sent();
        t.server_ok("250 OK\r\n250 OK\r\n354 go\r\n");
        let _ = t.events();
        t.cmd(|c| c.finish_body()).unwrap();
        let _ = t.sent();
        assert_eq!(t.advance(mins(2)), Ok(()));
        t.server_ok("250 queued\r\n");
        assert!(matches!(
            t.events().last(),
            Some(Event::TransactionFinished { .. })
        ));
        assert_eq!(t.client.poll_timeout(), None, "nothing left to bound");
        assert_eq!(t.advance(mins(2)), Ok(()));
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        let _ = t.sent();
        assert_eq!(t.deadline_in(), Some(mins(3)));
    }
);

// No deadline length can overflow the clock: `Duration::MAX` means none.
transcript!(
    an_endless_transaction_deadline_is_none,
    with_txn_deadline(Duration::MAX),
    |t| {
        ready_later(t, &[], mins(1));
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        let _ = t.sent();
        assert_eq!(t.deadline_in(), Some(mins(5)));
    }
);
