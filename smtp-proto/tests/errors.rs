//! Fatal errors (rules 6, 7, 12): what breaks a session, what
//! the caller learns, and that a broken session stays broken.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use common::{Harness, reply};
use smtp_proto::{
    BodyOptions, Config, Envelope, Error, Event, ForwardPath, Mechanism, ParserConfig, Phase,
    ProtocolError, ReplyError, ReversePath, Secret, Stage, TxnOutcome, UsageError,
};

fn envelope() -> Envelope {
    Envelope::new(
        ReversePath::parse("a@b.example").unwrap(),
        [ForwardPath::parse("c@d.example").unwrap()],
    )
}

fn lockstep() -> BodyOptions {
    BodyOptions::default().with_chunking(false)
}

/// The last event must be `TransactionFinished` with `outcome`.
fn finished_with(t: &mut Harness, outcome: TxnOutcome) {
    let evs = t.events();
    match evs.last() {
        Some(Event::TransactionFinished { report, .. }) => assert_eq!(report.outcome, outcome),
        _ => panic!("expected TransactionFinished, got {evs:?}"),
    }
}

/// Every way of using a failed session gives the same error or `Closed`,
/// and nothing reaches the wire.
fn assert_dead(t: &mut Harness, error: &Error) {
    assert_eq!(t.client.error(), Some(error));
    assert_eq!(t.client.phase(), Phase::Failed);
    assert!(t.client.is_closed());
    assert_eq!(t.feed("250 OK\r\n").as_ref(), Err(error));
    assert_eq!(t.feed("").as_ref(), Err(error));
    assert_eq!(t.eof().as_ref(), Err(error));
    assert_eq!(t.advance(Duration::from_secs(3600)).as_ref(), Err(error));
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.rset()), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.helo()), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.vrfy("postmaster")), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.raw("XCLIENT")), Err(UsageError::Closed));
    assert_eq!(
        t.cmd(|c| c.send_mail(&envelope(), lockstep())),
        Err(UsageError::Closed)
    );
    assert_eq!(t.cmd(|c| c.send_body(b"x")), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.finish_body()), Err(UsageError::Closed));
    assert_eq!(
        t.cmd(|c| c.auth_respond(Secret::new(b"x".to_vec()))),
        Err(UsageError::Closed)
    );
    assert_eq!(t.cmd(|c| c.auth_cancel()), Err(UsageError::Closed));
    assert!(t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)).is_err());
    assert!(t.cmd(|c| c.starttls()).is_err());
    let now = t.now;
    assert_eq!(
        t.cmd(|c| c.tls_established(now)),
        Err(UsageError::NotAllowed {
            command: "TLS handshake",
            phase: Phase::Failed
        })
    );
    let mut out = Vec::new();
    assert_eq!(t.client.poll_transmit(now, &mut out), 0);
    assert!(out.is_empty());
    assert_eq!(t.client.poll_timeout(), None);
    assert!(!t.client.can_send_body());
    t.expect_sent("");
    t.no_event();
}

// RFC 5321 §4.2 / rule 8: a reply nobody asked for means the two sides
// are out of step; garbage is never skipped to re-align.
transcript!(reply_with_nothing_outstanding, Config::default(), |t| {
    t.ready(&[]);
    let expected: Error = ProtocolError::UnexpectedReply {
        reply: reply(250, &["2.0.0 spurious"]),
    }
    .into();
    assert_eq!(t.feed("250 2.0.0 spurious\r\n"), Err(expected.clone()));
    t.no_event();
    assert_dead(t, &expected);
});

transcript!(more_replies_than_commands, Config::default(), |t| {
    t.ready(&[]);
    let id = t.cmd(|c| c.noop()).unwrap();
    t.expect_sent("NOOP\r\n");
    let expected: Error = ProtocolError::UnexpectedReply {
        reply: reply(250, &["extra"]),
    }
    .into();
    assert_eq!(t.feed("250 ok\r\n250 extra\r\n"), Err(expected.clone()));
    assert_eq!(
        t.event(),
        Event::Reply {
            id,
            reply: reply(250, &["ok"])
        }
    );
    assert_dead(t, &expected);
});

// rule 6: "A reply with no outstanding command is a protocol error,
// except 421, which means the server is closing."
transcript!(unsolicited_421_is_service_closing, Config::default(), |t| {
    t.ready(&[]);
    let closing = reply(421, &["4.4.2 idle too long"]);
    let expected = Error::ServiceClosing {
        reply: closing,
        stage: Stage::Idle,
    };
    assert_eq!(t.feed("421 4.4.2 idle too long\r\n"), Err(expected.clone()));
    t.no_event();
    assert_dead(t, &expected);
});

transcript!(reply_during_body_is_unexpected, Config::default(), |t| {
    t.ready(&[]);
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    for r in ["250 OK\r\n", "250 OK\r\n", "354 go\r\n"] {
        t.server_ok(r);
    }
    t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    let _ = t.events();
    t.cmd(|c| c.send_body(b"Subject: hi\r\n\r\n")).unwrap();
    let early = reply(552, &["5.3.4 too big already"]);
    let expected: Error = ProtocolError::UnexpectedReply { reply: early }.into();
    assert_eq!(
        t.feed("552 5.3.4 too big already\r\n"),
        Err(expected.clone())
    );
    finished_with(t, TxnOutcome::Aborted);
    // The body written before the error was already handed out; nothing more.
    assert_eq!(t.sent(), "Subject: hi\r\n\r\n");
    assert_dead(t, &expected);
});

transcript!(
    queued_commands_are_dropped_on_error,
    Config::default(),
    |t| {
        t.ready(&[]);
        let _ = t.cmd(|c| c.noop()).unwrap();
        let _ = t.cmd(|c| c.rset()).unwrap();
        let _ = t.cmd(|c| c.quit()).unwrap();
        // Lock-step: only the NOOP is on the wire.
        t.expect_sent("NOOP\r\n");
        let r = t.feed("2x0 what\r\n");
        assert_eq!(
            r,
            Err(ProtocolError::MalformedReply(ReplyError::InvalidCode).into())
        );
        // RSET and QUIT never go out.
        t.expect_sent("");
        t.no_event();
        assert_dead(t, &r.unwrap_err());
    }
);

// ----- end of file --------------------------------------------------------

transcript!(eof_while_idle_is_a_normal_close, Config::default(), |t| {
    t.ready(&["PIPELINING"]);
    assert_eq!(t.eof(), Ok(()));
    assert_eq!(t.event(), Event::Closed { reply: None });
    t.no_event();
    assert!(t.client.is_closed());
    assert_eq!(t.client.phase(), Phase::Closed);
    assert_eq!(t.client.error(), None);
    assert_eq!(t.client.poll_timeout(), None);
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::Closed));
    assert_eq!(
        t.cmd(|c| c.send_mail(&envelope(), lockstep())),
        Err(UsageError::Closed)
    );
    // A closed session ignores the clock and a repeated EOF.
    assert_eq!(t.advance(Duration::from_secs(3600)), Ok(()));
    assert_eq!(t.eof(), Ok(()));
    t.no_event();
    t.expect_sent("");
});

macro_rules! eof_at {
    ($name:ident, $stage:expr, |$t:ident| $setup:block) => {
        transcript!($name, Config::default(), |$t| {
            $setup
            let expected = Error::PeerClosed { stage: $stage };
            assert_eq!($t.eof(), Err(expected.clone()));
            // A transaction in progress is reported as never delivered.
            for e in $t.events() {
                let Event::TransactionFinished { report, .. } = e else { panic!("{e:?}") };
                assert_eq!(report.outcome, TxnOutcome::Aborted);
            }
            assert_dead($t, &expected);
        });
    };
}

eof_at!(eof_waiting_for_ehlo, Stage::Hello, |t| {
    t.server_ok("220 mx\r\n");
    let _ = t.event();
    t.expect_sent("EHLO localhost\r\n");
});

eof_at!(eof_inside_ehlo_reply, Stage::Hello, |t| {
    t.server_ok("220 mx\r\n250-mx.example.org\r\n250-PIPELINING\r\n");
    let _ = t.event();
    t.expect_sent("EHLO localhost\r\n");
});

eof_at!(eof_waiting_for_noop, Stage::Command, |t| {
    t.ready(&[]);
    let _ = t.cmd(|c| c.noop()).unwrap();
    t.expect_sent("NOOP\r\n");
});

eof_at!(eof_waiting_for_mail, Stage::Mail, |t| {
    t.ready(&[]);
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    t.expect_sent("MAIL FROM:<a@b.example>\r\n");
});

eof_at!(eof_waiting_for_rcpt, Stage::Rcpt, |t| {
    t.ready(&[]);
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    t.server_ok("250 OK\r\n");
    t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    let _ = t.events();
});

eof_at!(eof_waiting_for_354, Stage::DataInit, |t| {
    t.ready(&[]);
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    t.server_ok("250 OK\r\n");
    t.server_ok("250 OK\r\n");
    t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    let _ = t.events();
});

eof_at!(eof_while_sending_body, Stage::Body, |t| {
    t.ready(&[]);
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    for r in ["250 OK\r\n", "250 OK\r\n", "354 go\r\n"] {
        t.server_ok(r);
    }
    let _ = t.events();
    let _ = t.sent();
    t.cmd(|c| c.send_body(b"hello\r\n")).unwrap();
    t.expect_sent("hello\r\n");
});

eof_at!(
    eof_waiting_for_quit_inside_partial_reply,
    Stage::Quit,
    |t| {
        t.ready(&[]);
        let _ = t.cmd(|c| c.quit()).unwrap();
        t.expect_sent("QUIT\r\n");
        t.server_ok("221 by");
    }
);

transcript!(eof_mid_transaction_aborts_it, Config::default(), |t| {
    t.ready(&[]);
    let txn = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    t.server_ok("250 OK\r\n");
    let _ = t.events();
    assert_eq!(t.eof(), Err(Error::PeerClosed { stage: Stage::Rcpt }));
    let Event::TransactionFinished { txn: got, report } = t.event() else {
        panic!()
    };
    assert_eq!(got, txn);
    assert_eq!(report.outcome, TxnOutcome::Aborted);
    assert_eq!(report.mail_reply, Some(reply(250, &["OK"])));
    assert_eq!(report.recipients[0].rcpt_reply, None);
    t.no_event();
});

// rule 10: after the final "." the mail may have been delivered.
transcript!(
    eof_after_end_of_data_is_outcome_unknown,
    Config::default(),
    |t| {
        t.ready(&[]);
        let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
        for r in ["250 OK\r\n", "250 OK\r\n", "354 go\r\n"] {
            t.server_ok(r);
        }
        let _ = t.events();
        t.cmd(|c| c.send_body(b"hello\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        assert!(t.sent().ends_with("hello\r\n.\r\n"));
        let r = t.eof();
        assert_eq!(
            r,
            Err(Error::PeerClosed {
                stage: Stage::DataEnd
            })
        );
        assert!(r.unwrap_err().is_outcome_unknown());
        finished_with(t, TxnOutcome::Unknown);
    }
);

transcript!(eof_after_quit_is_ok, Config::default(), |t| {
    t.ready(&[]);
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("QUIT\r\n");
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::Closed));
    // Some servers close without a 221.
    assert_eq!(t.eof(), Ok(()));
    assert_eq!(t.event(), Event::Closed { reply: None });
    t.no_event();
    assert!(t.client.is_closed());
    assert_eq!(t.client.error(), None);
});

transcript!(eof_after_221_is_ok, Config::default(), |t| {
    t.ready(&[]);
    let id = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("QUIT\r\n");
    t.server_ok("221 2.0.0 Bye\r\n");
    assert_eq!(
        t.event(),
        Event::Reply {
            id,
            reply: reply(221, &["2.0.0 Bye"])
        }
    );
    assert_eq!(
        t.event(),
        Event::Closed {
            reply: Some(reply(221, &["2.0.0 Bye"]))
        }
    );
    assert_eq!(t.eof(), Ok(()));
    t.no_event();
    assert_eq!(t.client.error(), None);
});

// ----- 421 -----------------------------------------------------------------

// RFC 5321 §3.8: 421 may answer any command; the session ends and the
// transaction in progress is abandoned.
transcript!(service_closing_mid_transaction, Config::default(), |t| {
    t.ready(&[]);
    let txn = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    t.server_ok("250 OK\r\n");
    t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    let _ = t.events();
    let closing = reply(421, &["4.3.0 shutting down"]);
    let expected = Error::ServiceClosing {
        reply: closing.clone(),
        stage: Stage::Rcpt,
    };
    assert_eq!(t.feed("421 4.3.0 shutting down\r\n"), Err(expected.clone()));
    // The 421 is first reported to the RCPT it answers, then the transaction ends.
    assert_eq!(
        t.event(),
        Event::RcptReply {
            txn,
            rcpt: smtp_proto::RcptId(0),
            reply: closing.clone()
        }
    );
    let Event::TransactionFinished { report, .. } = t.event() else {
        panic!()
    };
    assert_eq!(report.outcome, TxnOutcome::Aborted);
    assert_eq!(report.recipients[0].rcpt_reply, Some(closing));
    assert!(!expected.is_outcome_unknown());
    // No QUIT, no RSET: the server is gone.
    assert_dead(t, &expected);
});

transcript!(service_closing_answers_data, Config::default(), |t| {
    t.ready(&[]);
    let _ = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    t.server_ok("250 OK\r\n");
    t.server_ok("250 OK\r\n");
    let _ = t.events();
    let r = t.feed("421 4.3.0 bye\r\n");
    assert!(
        matches!(
            r,
            Err(Error::ServiceClosing {
                stage: Stage::DataInit,
                ..
            })
        ),
        "{r:?}"
    );
    let evs = t.events();
    let Some(Event::TransactionFinished { report, .. }) = evs.last() else {
        panic!("{evs:?}")
    };
    // The 421 is DATA's answer: nothing was delivered; no RSET follows.
    assert_eq!(report.outcome, TxnOutcome::DataRefused);
    assert_eq!(report.data_reply, Some(reply(421, &["4.3.0 bye"])));
    assert_eq!(
        t.sent(),
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
    );
});

// A 421 after the final "." is a definite answer: the message was refused.
transcript!(service_closing_after_end_of_data, Config::default(), |t| {
    t.ready(&[]);
    let txn = t.cmd(|c| c.send_mail(&envelope(), lockstep())).unwrap();
    for r in ["250 OK\r\n", "250 OK\r\n", "354 go\r\n"] {
        t.server_ok(r);
    }
    let _ = t.events();
    t.cmd(|c| c.send_body(b"x\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    let _ = t.sent();
    let r = t.feed("421 4.3.0 bye\r\n");
    let Err(e) = r else { panic!() };
    assert!(
        matches!(
            e,
            Error::ServiceClosing {
                stage: Stage::DataEnd,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.is_outcome_unknown());
    assert!(matches!(t.event(), Event::DeliveryReply { txn: got, .. } if got == txn));
    finished_with(t, TxnOutcome::MessageRefused);
});

// ----- malformed replies (rule 6) ---------------------------------------

macro_rules! malformed {
    ($name:ident, $config:expr, $input:expr, $error:expr) => {
        transcript!($name, $config, |t| {
            t.ready(&[]);
            let _ = t.cmd(|c| c.noop()).unwrap();
            t.expect_sent("NOOP\r\n");
            let expected: Error = ProtocolError::MalformedReply($error).into();
            assert_eq!(t.feed($input), Err(expected.clone()));
            t.no_event();
            assert_dead(t, &expected);
        });
    };
}

malformed!(
    bad_code_letters,
    Config::default(),
    "2x0 OK\r\n",
    ReplyError::InvalidCode
);
malformed!(
    bad_code_600,
    Config::default(),
    "600 OK\r\n",
    ReplyError::InvalidCode
);
malformed!(
    bad_code_260,
    Config::default(),
    "260 OK\r\n",
    ReplyError::InvalidCode
);
malformed!(
    bad_code_two_digits,
    Config::default(),
    "25 OK\r\n",
    ReplyError::InvalidCode
);
malformed!(
    bad_code_four_digits,
    Config::default(),
    "2500 OK\r\n",
    ReplyError::InvalidCode
);
malformed!(
    bad_separator,
    Config::default(),
    "250_OK\r\n",
    ReplyError::InvalidSeparator
);
malformed!(
    mismatched_codes,
    Config::default(),
    "250-first line\r\n550 second line\r\n",
    ReplyError::InconsistentCodes
);
malformed!(bare_lf, Config::default(), "250 OK\n", ReplyError::BareLf);
malformed!(
    overlong_line_default_limit,
    Config::default(),
    format!("250 {}\r\n", "x".repeat(ParserConfig::DEFAULT_MAX_LINE_LEN)),
    ReplyError::LineTooLong
);
malformed!(
    overlong_line_custom_limit,
    Config::default().with_parser(ParserConfig::new().with_max_line_len(40)),
    "250 this line is longer than forty octets, CRLF included\r\n",
    ReplyError::LineTooLong
);
malformed!(
    too_many_lines,
    Config::default().with_parser(ParserConfig::new().with_max_lines(3)),
    "250-a\r\n250-b\r\n250-c\r\n250 d\r\n",
    ReplyError::TooManyLines
);
malformed!(
    reply_too_long,
    Config::default().with_parser(ParserConfig::new().with_max_reply_len(32)),
    "250-0123456789\r\n250-0123456789\r\n250 0123456789\r\n",
    ReplyError::ReplyTooLong
);

transcript!(
    overlong_line_without_end_fails_before_it_ends,
    Config::default(),
    |t| {
        // The limit holds while the line is still arriving: no unbounded memory.
        t.ready(&[]);
        let _ = t.cmd(|c| c.noop()).unwrap();
        let r = t.feed(format!(
            "250 {}",
            "x".repeat(ParserConfig::DEFAULT_MAX_LINE_LEN)
        ));
        assert_eq!(
            r,
            Err(ProtocolError::MalformedReply(ReplyError::LineTooLong).into())
        );
    }
);

transcript!(
    bare_lf_allowed_when_configured,
    Config::default().with_parser(ParserConfig::new().with_allow_bare_lf(true)),
    |t| {
        t.ready(&[]);
        let id = t.cmd(|c| c.noop()).unwrap();
        t.server_ok("250 OK\n");
        assert_eq!(
            t.event(),
            Event::Reply {
                id,
                reply: reply(250, &["OK"])
            }
        );
    }
);

transcript!(code_alone_is_a_valid_reply, Config::default(), |t| {
    t.ready(&[]);
    let id = t.cmd(|c| c.noop()).unwrap();
    t.server_ok("250\r\n");
    assert_eq!(
        t.event(),
        Event::Reply {
            id,
            reply: reply(250, &[""])
        }
    );
    let id = t.cmd(|c| c.noop()).unwrap();
    t.server_ok("250 \r\n");
    assert_eq!(
        t.event(),
        Event::Reply {
            id,
            reply: reply(250, &[""])
        }
    );
});

transcript!(malformed_ehlo_reply, Config::default(), |t| {
    t.server_ok("220 mx\r\n");
    let _ = t.event();
    t.expect_sent("EHLO localhost\r\n");
    let r = t.feed("250-mx.example.org\r\n550 STARTTLS\r\n");
    assert_eq!(
        r,
        Err(ProtocolError::MalformedReply(ReplyError::InconsistentCodes).into())
    );
    t.no_event();
    assert_eq!(t.client.extensions(), None);
    assert_dead(t, &r.unwrap_err());
});

// ----- misuse -------------------------------------------------------------

transcript!(
    tls_established_when_not_awaiting_tls,
    Config::default(),
    |t| {
        let now = t.now;
        assert_eq!(
            t.cmd(|c| c.tls_established(now)),
            Err(UsageError::NotAllowed {
                command: "TLS handshake",
                phase: Phase::Greeting
            })
        );
        t.ready(&["STARTTLS"]);
        assert_eq!(
            t.cmd(|c| c.tls_established(now)),
            Err(UsageError::NotAllowed {
                command: "TLS handshake",
                phase: Phase::Ready
            })
        );
        // STARTTLS sent, no 220 yet.
        let _ = t.cmd(|c| c.starttls()).unwrap();
        t.expect_sent("STARTTLS\r\n");
        assert_eq!(
            t.cmd(|c| c.tls_established(now)),
            Err(UsageError::NotAllowed {
                command: "TLS handshake",
                phase: Phase::Ready
            })
        );
        assert!(!t.client.is_tls());
        // Usage errors change nothing: the session goes on.
        assert_eq!(t.client.error(), None);
        t.server_ok("220 go\r\n");
        assert!(matches!(t.event(), Event::StartTlsReady { .. }));
    }
);

transcript!(usage_errors_are_not_sticky, Config::default(), |t| {
    t.ready(&[]);
    assert_eq!(
        t.cmd(|c| c.starttls()),
        Err(UsageError::ExtensionNotAdvertised("STARTTLS"))
    );
    assert_eq!(t.cmd(|c| c.finish_body()), Err(UsageError::NoBodyExpected));
    assert!(matches!(
        t.cmd(|c| c.vrfy("")),
        Err(UsageError::InvalidCommand(_))
    ));
    assert_eq!(t.client.error(), None);
    let id = t.cmd(|c| c.noop()).unwrap();
    t.expect_sent("NOOP\r\n");
    t.server_ok("250 OK\r\n");
    assert_eq!(
        t.event(),
        Event::Reply {
            id,
            reply: reply(250, &["OK"])
        }
    );
});
