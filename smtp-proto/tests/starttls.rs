//! STARTTLS (RFC 3207) and the plaintext/TLS boundary (rule 1).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use common::{Harness, ehlo_reply, reply};
use smtp_proto::{
    BodyOptions, Config, Envelope, Error, Event, ForwardPath, Mechanism, Phase, ProtocolError,
    ReversePath, Secret, Stage, UsageError,
};

fn envelope() -> Envelope {
    Envelope::new(
        ReversePath::parse("a@b.example").unwrap(),
        [ForwardPath::parse("c@d.example").unwrap()],
    )
}

/// Ready with STARTTLS advertised, STARTTLS sent.
fn starttls_sent(t: &mut Harness) -> smtp_proto::CommandId {
    t.ready(&["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"]);
    let id = t.cmd(|c| c.starttls()).unwrap();
    t.expect_sent("STARTTLS\r\n");
    id
}

// RFC 3207 §4, example: S: 220 Go ahead / C: <starts TLS negotiation> /
// C & S: <negotiate a TLS session> / C: EHLO ...
transcript!(happy_path, Config::default(), |t| {
    let id = starttls_sent(t);
    assert_eq!(t.deadline_in(), Some(Duration::from_secs(300)));
    t.server_ok("220 2.0.0 Go ahead\r\n");
    assert!(
        matches!(t.event(), Event::StartTlsReady { id: got, reply } if got == id && reply.code().get() == 220)
    );
    t.no_event();
    t.expect_sent("");
    assert_eq!(t.client.phase(), Phase::AwaitingTls);
    assert!(!t.client.is_tls());
    // The handshake has no deadline of ours: the adapter times it.
    assert_eq!(t.client.poll_timeout(), None);
    // No command may slip in before the handshake.
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::StartTlsInProgress));
    assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::StartTlsInProgress));
    assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::StartTlsInProgress));
    assert_eq!(
        t.cmd(|c| c.auth(Mechanism::PLAIN, Some(Secret::new(b"\0u\0p".to_vec())))),
        Err(UsageError::StartTlsInProgress)
    );
    assert_eq!(
        t.cmd(|c| c.send_mail(&envelope(), BodyOptions::default())),
        Err(UsageError::StartTlsInProgress)
    );
    t.expect_sent("");
    // An empty read is not data.
    t.server_ok("");
    // The TLS handshake happens in the adapter; then:
    tls(t).unwrap();
    assert!(t.client.is_tls());
    assert_eq!(
        t.client.extensions(),
        None,
        "RFC 3207 §4.2: forget everything"
    );
    assert_eq!(t.client.phase(), Phase::Connected);
    t.expect_sent("EHLO localhost\r\n");
    assert_eq!(t.deadline_in(), Some(Duration::from_secs(300)));
    t.server_ok(ehlo_reply(&["PIPELINING", "AUTH PLAIN LOGIN XOAUTH2"]));
    let Event::Hello {
        esmtp: true,
        extensions: Some(ext),
        ..
    } = t.event()
    else {
        panic!()
    };
    assert!(!ext.starttls());
    assert_eq!(ext.auth_mechanisms(), ["PLAIN", "LOGIN", "XOAUTH2"]);
    assert_eq!(t.client.extensions(), Some(&ext));
    assert_eq!(t.client.phase(), Phase::Ready);
    assert_eq!(t.cmd(|c| c.starttls()), Err(UsageError::TlsAlreadyActive));
    // Over TLS a password mechanism is fine.
    let _ = t
        .cmd(|c| c.auth(Mechanism::PLAIN, Some(Secret::new(b"\0u\0p".to_vec()))))
        .unwrap();
    t.expect_sent("AUTH PLAIN AHUAcA==\r\n");
});

/// The adapter finished the TLS handshake.
fn tls(t: &mut Harness) -> Result<(), UsageError> {
    let now = t.now;
    t.cmd(|c| c.tls_established(now))
}

transcript!(multi_line_220_is_accepted, Config::default(), |t| {
    let id = starttls_sent(t);
    t.server_ok("220-2.0.0 Ready\r\n220 2.0.0 Go ahead\r\n");
    assert!(
        matches!(t.event(), Event::StartTlsReady { id: got, reply } if got == id && reply.code().get() == 220)
    );
});

transcript!(
    without_auto_ehlo_the_caller_sends_ehlo,
    Config::default().with_auto_ehlo(false),
    |t| {
        t.server_ok("220 mx\r\n");
        let _ = t.event();
        let _ = t.cmd(|c| c.ehlo()).unwrap();
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok(ehlo_reply(&["STARTTLS"]));
        let _ = t.event();
        let id = t.cmd(|c| c.starttls()).unwrap();
        t.expect_sent("STARTTLS\r\n");
        t.server_ok("220 go\r\n");
        assert!(
            matches!(t.event(), Event::StartTlsReady { id: got, reply } if got == id && reply.code().get() == 220)
        );
        tls(t).unwrap();
        t.expect_sent("");
        t.no_event();
        assert_eq!(t.client.extensions(), None);
        // Nothing learned in plaintext may be used: STARTTLS is refused because
        // TLS is active, AUTH and MAIL because no EHLO succeeded yet.
        assert_eq!(t.cmd(|c| c.starttls()), Err(UsageError::TlsAlreadyActive));
        assert!(matches!(
            t.cmd(|c| c.send_mail(&envelope(), BodyOptions::default())),
            Err(UsageError::NotAllowed {
                command: "MAIL",
                ..
            })
        ));
        let _ = t.cmd(|c| c.ehlo()).unwrap();
        t.expect_sent("EHLO localhost\r\n");
    }
);

// The NO STARTTLS "response injection" class: the attacker appends a reply
// to the 220 in plaintext, hoping the client reads it as if it came over TLS.
fn injected(rest: &str) {
    for in_later_read in [false, true] {
        let mut t = Harness::new(Config::default(), false);
        starttls_sent(&mut t);
        let r = if in_later_read {
            // The 220 alone first, then the injection in a later read.
            t.server_ok("220 2.0.0 Go ahead\r\n");
            assert!(matches!(t.event(), Event::StartTlsReady { .. }));
            t.feed(rest)
        } else {
            t.feed(format!("220 2.0.0 Go ahead\r\n{rest}"))
        };
        let expected: Error = ProtocolError::DataAfterStartTls.into();
        assert_eq!(r, Err(expected.clone()), "{rest:?}");
        // No StartTlsReady: the caller must not run a handshake.
        t.no_event();
        t.expect_sent("");
        assert_eq!(t.client.phase(), Phase::Failed);
        assert!(t.client.is_closed());
        assert!(!t.client.is_tls());
        assert_eq!(t.client.error(), Some(&expected));
        assert_eq!(t.client.poll_timeout(), None);
        // The handshake must not be started, and the session stays dead.
        assert_eq!(
            tls(&mut t),
            Err(UsageError::NotAllowed {
                command: "TLS handshake",
                phase: Phase::Failed
            })
        );
        assert_eq!(t.feed("250 ok\r\n"), Err(expected.clone()));
        assert_eq!(t.eof(), Err(expected.clone()));
        assert_eq!(t.advance(Duration::from_secs(3600)), Err(expected));
        assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::Closed));
        t.expect_sent("");
        t.no_event();
    }
}

#[test]
fn data_after_220_whole_reply() {
    injected("250-mx.example.org\r\n250 AUTH PLAIN\r\n");
}

#[test]
fn data_after_220_partial_line() {
    injected("2");
}

#[test]
fn data_after_220_single_crlf() {
    injected("\r\n");
}

#[test]
fn data_after_220_garbage() {
    injected("\x16\x03\x01");
}

// A caller that reads twice before draining events must not find a
// StartTlsReady waiting after the injection either.
#[test]
fn undrained_ready_is_withdrawn() {
    let mut t = Harness::new(Config::default(), false);
    starttls_sent(&mut t);
    let now = t.now;
    t.client.handle_input(now, b"220 go\r\n").unwrap();
    assert_eq!(
        t.client.handle_input(now, b"250 injected\r\n"),
        Err(ProtocolError::DataAfterStartTls.into())
    );
    assert_eq!(t.client.poll_event(), None);
    let mut out = Vec::new();
    assert_eq!(t.client.poll_transmit(now, &mut out), 0);
    assert!(out.is_empty());
}

// The same in the transcript runner: fed byte by byte the 220 completes
// first, so the injection arrives in a later `handle_input`, which must fail
// the same way.
transcript!(
    data_in_later_read_before_handshake,
    Config::default(),
    |t| {
        let id = starttls_sent(t);
        t.server_ok("220 2.0.0 Go ahead\r\n");
        assert!(
            matches!(t.event(), Event::StartTlsReady { id: got, reply } if got == id && reply.code().get() == 220)
        );
        assert_eq!(
            t.feed("250 OK\r\n"),
            Err(ProtocolError::DataAfterStartTls.into())
        );
        t.no_event();
        t.expect_sent("");
        assert!(tls(t).is_err());
        assert!(!t.client.is_tls());
    }
);

// RFC 3207 §4: 454 TLS not available, 501 syntax; 502/554 from servers that
// dropped it; a nonsense 354 must not be taken for "go ahead" either.
macro_rules! refused {
    ($name:ident, $line:literal, $code:literal) => {
        transcript!($name, Config::default(), |t| {
            let id = starttls_sent(t);
            t.server_ok($line);
            let Event::StartTlsRejected { id: got, reply: r } = t.event() else {
                panic!()
            };
            assert_eq!(got, id);
            assert_eq!(r.code().get(), $code);
            t.no_event();
            t.expect_sent("");
            assert!(!t.client.is_tls());
            assert_eq!(t.client.phase(), Phase::Ready);
            assert_eq!(t.client.poll_timeout(), None);
            // The session goes on in plaintext, capabilities intact; the
            // caller's policy decides (here: a NOOP, then QUIT).
            assert!(t.client.extensions().unwrap().starttls());
            let _ = t.cmd(|c| c.noop()).unwrap();
            t.expect_sent("NOOP\r\n");
            t.server_ok("250 ok\r\n");
            assert!(matches!(t.event(), Event::Reply { .. }));
            // Still no password in plaintext.
            assert_eq!(
                t.cmd(|c| c.auth(Mechanism::PLAIN, None)),
                Err(UsageError::PlaintextAuthRefused(Mechanism::PLAIN))
            );
            // STARTTLS may be tried again.
            let _ = t.cmd(|c| c.starttls()).unwrap();
            t.expect_sent("STARTTLS\r\n");
        });
    };
}

refused!(
    refused_454,
    "454 4.7.0 TLS not available due to temporary reason\r\n",
    454
);
refused!(refused_502, "502 5.5.1 Command not implemented\r\n", 502);
refused!(refused_554, "554 5.7.0 No TLS for you\r\n", 554);
refused!(refused_501, "501 5.5.4 Syntax error\r\n", 501);
refused!(
    nonsense_354_is_a_refusal,
    "354 go ahead, send data\r\n",
    354
);
refused!(nonsense_250_is_a_refusal, "250 sure\r\n", 250);

transcript!(
    refused_with_data_after_is_not_an_injection,
    Config::default(),
    |t| {
        // Only a 220 opens the boundary; after a refusal, further replies are
        // ordinary (here, unexpected: nothing else is outstanding).
        let _ = starttls_sent(t);
        let r = t.feed("454 not now\r\n250 extra\r\n");
        assert!(
            matches!(
                r,
                Err(Error::Protocol(ProtocolError::UnexpectedReply { .. }))
            ),
            "{r:?}"
        );
        assert!(matches!(t.event(), Event::StartTlsRejected { .. }));
    }
);

transcript!(starttls_421_is_service_closing, Config::default(), |t| {
    let id = starttls_sent(t);
    let closing = reply(421, &["4.7.0 closing"]);
    assert_eq!(
        t.feed("421 4.7.0 closing\r\n"),
        Err(Error::ServiceClosing {
            reply: closing.clone(),
            stage: Stage::StartTls
        })
    );
    assert_eq!(t.event(), Event::StartTlsRejected { id, reply: closing });
    t.expect_sent("");
    assert!(!t.client.is_tls());
});

transcript!(starttls_not_advertised, Config::default(), |t| {
    t.ready(&["PIPELINING", "AUTH PLAIN"]);
    assert_eq!(
        t.cmd(|c| c.starttls()),
        Err(UsageError::ExtensionNotAdvertised("STARTTLS"))
    );
    t.expect_sent("");
    // The session is unchanged.
    let _ = t.cmd(|c| c.noop()).unwrap();
    t.expect_sent("NOOP\r\n");
});

transcript!(starttls_needs_a_successful_ehlo, Config::default(), |t| {
    t.server_ok("220 mx\r\n");
    let _ = t.event();
    t.expect_sent("EHLO localhost\r\n");
    // EHLO still outstanding.
    assert!(matches!(
        t.cmd(|c| c.starttls()),
        Err(UsageError::NotAllowed {
            command: "STARTTLS",
            phase: Phase::Connected
        })
    ));
    t.expect_sent("");
});

transcript!(starttls_when_tls_active, Config::default(), |t| {
    // Implicit TLS (port 465): the adapter did the handshake first.
    t.client.set_tls(true);
    t.ready(&["STARTTLS"]);
    assert!(t.client.is_tls());
    assert_eq!(t.cmd(|c| c.starttls()), Err(UsageError::TlsAlreadyActive));
    t.expect_sent("");
});

transcript!(
    commands_refused_while_starttls_in_flight,
    Config::default(),
    |t| {
        let _ = starttls_sent(t);
        assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::StartTlsInProgress));
        assert_eq!(t.cmd(|c| c.rset()), Err(UsageError::StartTlsInProgress));
        assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::StartTlsInProgress));
        assert_eq!(t.cmd(|c| c.starttls()), Err(UsageError::StartTlsInProgress));
        assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::StartTlsInProgress));
        assert_eq!(
            t.cmd(|c| c.send_mail(&envelope(), BodyOptions::default())),
            Err(UsageError::StartTlsInProgress)
        );
        assert_eq!(
            t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)),
            Err(UsageError::StartTlsInProgress)
        );
        // Even with PIPELINING nothing joins the STARTTLS on the wire.
        t.expect_sent("");
        t.server_ok("220 go\r\n");
        let _ = t.event();
        t.expect_sent("");
    }
);

transcript!(
    starttls_queued_behind_a_command_then_blocks,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING", "STARTTLS"]);
        let _ = t.cmd(|c| c.noop()).unwrap();
        let id = t.cmd(|c| c.starttls()).unwrap();
        // NOOP ends a group; STARTTLS waits for its reply.
        t.expect_sent("NOOP\r\n");
        assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::StartTlsInProgress));
        t.server_ok("250 ok\r\n");
        assert!(matches!(t.event(), Event::Reply { .. }));
        t.expect_sent("STARTTLS\r\n");
        t.server_ok("220 go\r\n");
        assert!(
            matches!(t.event(), Event::StartTlsReady { id: got, reply } if got == id && reply.code().get() == 220)
        );
    }
);

transcript!(
    starttls_during_transaction_is_refused,
    Config::default(),
    |t| {
        t.ready(&["STARTTLS"]);
        let _ = t
            .cmd(|c| c.send_mail(&envelope(), BodyOptions::default()))
            .unwrap();
        assert_eq!(
            t.cmd(|c| c.starttls()),
            Err(UsageError::TransactionInProgress)
        );
        t.expect_sent("MAIL FROM:<a@b.example>\r\n");
    }
);

// rule 1: "if that EHLO fails, the old capabilities never come back".
transcript!(
    failed_ehlo_after_tls_keeps_extensions_none,
    Config::default(),
    |t| {
        let _ = starttls_sent(t);
        t.server_ok("220 go\r\n");
        let _ = t.event();
        tls(t).unwrap();
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok("554 5.7.0 no\r\n");
        let Event::Hello {
            esmtp: true,
            extensions: None,
            ..
        } = t.event()
        else {
            panic!()
        };
        assert_eq!(t.client.extensions(), None);
        assert_eq!(t.client.phase(), Phase::Connected);
        assert!(t.client.is_tls());
        assert!(!t.client.is_pipelining());
        assert_eq!(t.cmd(|c| c.starttls()), Err(UsageError::TlsAlreadyActive));
        assert!(matches!(
            t.cmd(|c| c.auth(Mechanism::PLAIN, None)),
            Err(UsageError::NotAllowed {
                command: "AUTH",
                ..
            })
        ));
        assert!(matches!(
            t.cmd(|c| c.send_mail(&envelope(), BodyOptions::default())),
            Err(UsageError::NotAllowed {
                command: "MAIL",
                ..
            })
        ));
        t.expect_sent("");
    }
);

transcript!(
    helo_fallback_after_tls_learns_nothing_old,
    Config::default(),
    |t| {
        let _ = starttls_sent(t);
        t.server_ok("220 go\r\n");
        let _ = t.event();
        tls(t).unwrap();
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok("502 no EHLO today\r\n");
        t.expect_sent("HELO localhost\r\n");
        t.server_ok("250 mx\r\n");
        let Event::Hello {
            esmtp: false,
            extensions: Some(ext),
            ..
        } = t.event()
        else {
            panic!()
        };
        assert_eq!(ext.iter().count(), 0);
        let now = t.client.extensions().unwrap();
        assert!(!now.pipelining() && !now.starttls() && !now.has("AUTH"));
        assert_eq!(
            t.cmd(|c| c.auth(Mechanism::PLAIN, None)),
            Err(UsageError::ExtensionNotAdvertised("AUTH"))
        );
    }
);

transcript!(starttls_advertised_again_over_tls, Config::default(), |t| {
    let _ = starttls_sent(t);
    t.server_ok("220 go\r\n");
    let _ = t.event();
    tls(t).unwrap();
    t.expect_sent("EHLO localhost\r\n");
    t.server_ok(ehlo_reply(&["STARTTLS", "PIPELINING"]));
    let Event::Hello {
        extensions: Some(ext),
        ..
    } = t.event()
    else {
        panic!()
    };
    assert!(ext.starttls(), "reported as advertised");
    assert_eq!(t.cmd(|c| c.starttls()), Err(UsageError::TlsAlreadyActive));
    t.expect_sent("");
});

transcript!(tls_established_twice_is_refused, Config::default(), |t| {
    let _ = starttls_sent(t);
    t.server_ok("220 go\r\n");
    let _ = t.event();
    tls(t).unwrap();
    assert_eq!(
        tls(t),
        Err(UsageError::NotAllowed {
            command: "TLS handshake",
            phase: Phase::Connected
        })
    );
    t.expect_sent("EHLO localhost\r\n");
});

transcript!(
    tls_established_after_refusal_is_refused,
    Config::default(),
    |t| {
        let _ = starttls_sent(t);
        t.server_ok("454 no\r\n");
        let _ = t.event();
        assert_eq!(
            tls(t),
            Err(UsageError::NotAllowed {
                command: "TLS handshake",
                phase: Phase::Ready
            })
        );
        assert!(!t.client.is_tls());
        t.expect_sent("");
    }
);

transcript!(starttls_reply_timeout, Config::default(), |t| {
    let _ = starttls_sent(t);
    assert_eq!(
        t.advance(Duration::from_secs(300) - Duration::from_millis(1)),
        Ok(())
    );
    assert_eq!(
        t.advance(Duration::from_millis(1)),
        Err(Error::Timeout {
            stage: Stage::StartTls
        })
    );
    t.expect_sent("");
});

transcript!(eof_while_starttls_outstanding, Config::default(), |t| {
    let _ = starttls_sent(t);
    assert_eq!(
        t.eof(),
        Err(Error::PeerClosed {
            stage: Stage::StartTls
        })
    );
});

transcript!(lmtp_starttls_then_lhlo, Config::lmtp(), |t| {
    t.ready(&["STARTTLS"]);
    let id = t.cmd(|c| c.starttls()).unwrap();
    t.expect_sent("STARTTLS\r\n");
    t.server_ok("220 go\r\n");
    assert!(
        matches!(t.event(), Event::StartTlsReady { id: got, reply } if got == id && reply.code().get() == 220)
    );
    tls(t).unwrap();
    t.expect_sent("LHLO localhost\r\n");
});
