//! The server's greeting (RFC 5321 §3.1, §4.2, §4.3.2): what the client
//! sends, reports and refuses before and right after it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::reply;
use smtp_proto::{Config, Error, Event, Phase, ProtocolError, ReplyError, Stage, UsageError};

// RFC 5321 §4.3.2: "S: 220 ... C: EHLO". Nothing is sent before the
// greeting; the automatic EHLO follows it at once.
transcript!(single_line_220_then_ehlo, Config::default(), |t| {
    assert_eq!(t.client.phase(), Phase::Greeting);
    t.expect_sent("");
    t.server_ok("220 foo.com Simple Mail Transfer Service Ready\r\n");
    assert_eq!(
        t.event(),
        Event::Greeting {
            reply: reply(220, &["foo.com Simple Mail Transfer Service Ready"])
        }
    );
    t.no_event();
    t.expect_sent("EHLO localhost\r\n");
    assert_eq!(t.client.phase(), Phase::Connected);
    assert_eq!(t.client.extensions(), None);
    t.server_ok("250 foo.com greets localhost\r\n");
    let Event::Hello {
        reply: r,
        esmtp,
        extensions,
        ..
    } = t.event()
    else {
        panic!()
    };
    assert_eq!(r, reply(250, &["foo.com greets localhost"]));
    assert!(esmtp);
    assert_eq!(extensions, Some(Default::default()));
    assert_eq!(t.client.phase(), Phase::Ready);
    t.no_event();
    t.expect_sent("");
});

transcript!(multi_line_220_is_one_greeting, Config::default(), |t| {
    t.server_ok("220-mx.example.org ESMTP\r\n220-No UCE\r\n220 Ready\r\n");
    assert_eq!(
        t.event(),
        Event::Greeting {
            reply: reply(220, &["mx.example.org ESMTP", "No UCE", "Ready"])
        }
    );
    t.no_event();
    // One EHLO, sent only once the last line arrived.
    t.expect_sent("EHLO localhost\r\n");
});

transcript!(partial_greeting_sends_nothing, Config::default(), |t| {
    t.server_ok("220-mx.example.org ESMTP\r\n220 Rea");
    t.no_event();
    t.expect_sent("");
    assert_eq!(t.client.phase(), Phase::Greeting);
    t.server_ok("dy\r\n");
    assert!(matches!(t.event(), Event::Greeting { .. }));
    t.expect_sent("EHLO localhost\r\n");
});

// RFC 5321 §3.1: "a 554 response MAY be given in the initial connection
// opening message instead of the 220 ... the client ... SHOULD send the QUIT
// command".
transcript!(
    greeting_554_sends_quit_then_closes,
    Config::default(),
    |t| {
        t.server_ok("554 5.7.1 No SMTP service here\r\n");
        assert_eq!(
            t.event(),
            Event::Greeting {
                reply: reply(554, &["5.7.1 No SMTP service here"])
            }
        );
        t.expect_sent("QUIT\r\n");
        assert_eq!(t.client.phase(), Phase::Closing);
        assert!(!t.client.is_closed());
        // Nothing but the QUIT: every command is refused.
        assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::Closed));
        assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::Closed));
        assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::Closed));
        t.expect_sent("");
        t.server_ok("221 2.0.0 Bye\r\n");
        let Event::Reply { reply: r, .. } = t.event() else {
            panic!()
        };
        assert_eq!(r, reply(221, &["2.0.0 Bye"]));
        assert_eq!(
            t.event(),
            Event::Closed {
                reply: Some(reply(221, &["2.0.0 Bye"]))
            }
        );
        t.no_event();
        assert!(t.client.is_closed());
        assert_eq!(t.client.phase(), Phase::Closed);
        assert_eq!(t.client.error(), None);
        assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::Closed));
        assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::Closed));
        t.expect_sent("");
        assert_eq!(t.client.poll_timeout(), None);
    }
);

transcript!(greeting_554_then_server_hangs_up, Config::default(), |t| {
    t.server_ok("554 go away\r\n");
    let _ = t.event();
    t.expect_sent("QUIT\r\n");
    // The server closes without answering QUIT: an ordinary end.
    assert_eq!(t.eof(), Ok(()));
    assert_eq!(t.event(), Event::Closed { reply: None });
    assert!(t.client.is_closed());
});

transcript!(
    greeting_4xx_other_than_421_also_quits,
    Config::default(),
    |t| {
        t.server_ok("450 busy, try later\r\n");
        assert!(matches!(t.event(), Event::Greeting { .. }));
        t.expect_sent("QUIT\r\n");
        assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::Closed));
    }
);

// RFC 5321 §3.8: 421 means the server is closing the channel; no QUIT.
transcript!(greeting_421_is_service_closing, Config::default(), |t| {
    let closing = reply(421, &["4.3.2 mx.example.org Service not available"]);
    let expected = Error::ServiceClosing {
        reply: closing.clone(),
        stage: Stage::Greeting,
    };
    assert_eq!(
        t.feed("421 4.3.2 mx.example.org Service not available\r\n"),
        Err(expected.clone())
    );
    assert_eq!(t.event(), Event::Greeting { reply: closing });
    t.no_event();
    t.expect_sent("");
    assert_eq!(t.client.phase(), Phase::Failed);
    assert_eq!(t.client.error(), Some(&expected));
    assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::Closed));
    assert_eq!(t.feed("220 changed my mind\r\n"), Err(expected));
    t.expect_sent("");
    t.no_event();
});

// A greeting must be 220, 421 or 554 (RFC 5321 §4.3.2); an intermediate code
// such as 354 makes no sense and the server cannot be trusted.
transcript!(greeting_354_is_bad_greeting, Config::default(), |t| {
    let expected: Error = ProtocolError::BadGreeting {
        reply: reply(354, &["start mail input"]),
    }
    .into();
    assert_eq!(t.feed("354 start mail input\r\n"), Err(expected.clone()));
    t.no_event();
    t.expect_sent("");
    assert!(t.client.is_closed());
    assert_eq!(t.client.error(), Some(&expected));
    assert_eq!(t.eof(), Err(expected));
});

transcript!(greeting_334_is_bad_greeting, Config::default(), |t| {
    let r = t.feed("334 VXNlcm5hbWU6\r\n");
    assert!(
        matches!(r, Err(Error::Protocol(ProtocolError::BadGreeting { .. }))),
        "{r:?}"
    );
    t.expect_sent("");
});

transcript!(malformed_greeting_line, Config::default(), |t| {
    assert_eq!(
        t.feed("Hello, I am an SMTP server\r\n"),
        Err(ProtocolError::MalformedReply(ReplyError::InvalidCode).into())
    );
    t.no_event();
    t.expect_sent("");
    assert!(t.client.is_closed());
});

transcript!(greeting_with_bad_separator, Config::default(), |t| {
    assert_eq!(
        t.feed("220mx.example.org\r\n"),
        Err(ProtocolError::MalformedReply(ReplyError::InvalidSeparator).into())
    );
    t.expect_sent("");
});

transcript!(greeting_with_mixed_codes, Config::default(), |t| {
    // A "220-" line followed by "554": neither a welcome nor a refusal.
    assert_eq!(
        t.feed("220-mx.example.org\r\n554 no service\r\n"),
        Err(ProtocolError::MalformedReply(ReplyError::InconsistentCodes).into())
    );
    t.no_event();
    t.expect_sent("");
});

transcript!(
    commands_before_greeting_are_not_allowed,
    Config::default(),
    |t| {
        let not_allowed = |command| UsageError::NotAllowed {
            command,
            phase: Phase::Greeting,
        };
        assert_eq!(t.cmd(|c| c.ehlo()), Err(not_allowed("EHLO")));
        assert_eq!(t.cmd(|c| c.helo()), Err(not_allowed("HELO")));
        assert_eq!(t.cmd(|c| c.noop()), Err(not_allowed("NOOP")));
        assert_eq!(t.cmd(|c| c.rset()), Err(not_allowed("RSET")));
        assert_eq!(t.cmd(|c| c.quit()), Err(not_allowed("QUIT")));
        assert!(matches!(
            t.cmd(|c| c.starttls()),
            Err(UsageError::NotAllowed { .. })
        ));
        assert_eq!(t.cmd(|c| c.auth_cancel()), Err(UsageError::NoAuthChallenge));
        t.expect_sent("");
        t.no_event();
        // The refused calls left no trace: the greeting is answered with one EHLO.
        t.server_ok("220 ready\r\n");
        let _ = t.event();
        t.expect_sent("EHLO localhost\r\n");
    }
);

transcript!(
    auto_ehlo_off_waits_for_the_caller,
    Config::default().with_auto_ehlo(false),
    |t| {
        t.server_ok("220 mx.example.org ESMTP\r\n");
        assert!(matches!(t.event(), Event::Greeting { .. }));
        t.no_event();
        t.expect_sent("");
        assert_eq!(t.client.phase(), Phase::Connected);
        assert_eq!(t.client.poll_timeout(), None);
        // Without EHLO there is nothing to base MAIL or AUTH on.
        assert!(matches!(
            t.cmd(|c| c.starttls()),
            Err(UsageError::NotAllowed { .. })
        ));
        let id = t.cmd(|c| c.ehlo()).unwrap();
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok("250-mx.example.org\r\n250 PIPELINING\r\n");
        let Event::Hello {
            id: got,
            esmtp: true,
            extensions: Some(ext),
            ..
        } = t.event()
        else {
            panic!()
        };
        assert_eq!(got, id);
        assert!(ext.pipelining());
    }
);

transcript!(
    auto_ehlo_off_allows_helo_first,
    Config::default().with_auto_ehlo(false),
    |t| {
        t.server_ok("220 mx.example.org\r\n");
        let _ = t.event();
        let id = t.cmd(|c| c.helo()).unwrap();
        t.expect_sent("HELO localhost\r\n");
        t.server_ok("250 mx.example.org\r\n");
        assert_eq!(
            t.event(),
            Event::Hello {
                id,
                reply: reply(250, &["mx.example.org"]),
                esmtp: false,
                extensions: Some(Default::default())
            }
        );
    }
);

transcript!(eof_before_greeting, Config::default(), |t| {
    assert_eq!(
        t.eof(),
        Err(Error::PeerClosed {
            stage: Stage::Greeting
        })
    );
    t.no_event();
    t.expect_sent("");
});

transcript!(eof_inside_greeting, Config::default(), |t| {
    t.server_ok("220-mx.example.org\r\n220 rea");
    assert_eq!(
        t.eof(),
        Err(Error::PeerClosed {
            stage: Stage::Greeting
        })
    );
    t.no_event();
});
