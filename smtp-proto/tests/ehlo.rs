//! EHLO, HELO and LHLO (RFC 5321 §4.1.1.1, §4.1.4; RFC 2033 §4.1): the
//! capabilities learned, the HELO fallback and when it must not happen.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{ehlo_reply, reply};
use smtp_proto::{
    BodyOptions, Config, Envelope, Error, Event, ForwardPath, Phase, ReversePath, Stage, UsageError,
};

fn greet(t: &mut common::Harness) {
    t.server_ok("220 mx.example.org ESMTP\r\n");
    assert!(matches!(t.event(), Event::Greeting { .. }));
}

// RFC 5321 §4.1.1.1 and smtplib's `esmtp_features`: keywords are
// case-insensitive, and the old `AUTH=` form (RFC 2554 era) is merged into AUTH.
transcript!(
    capabilities_are_parsed_case_insensitively,
    Config::default(),
    |t| {
        greet(t);
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok(
            "250-mx.example.org Hello localhost [192.0.2.1]\r\n\
         250-pipelining\r\n\
         250-Size 35882577\r\n\
         250-8bitmime\r\n\
         250-StartTLS\r\n\
         250-AUTH=LOGIN\r\n\
         250-auth plain login cram-md5\r\n\
         250-ENHANCEDSTATUSCODES\r\n\
         250-X-VENDOR-THING with params\r\n\
         250 chunking\r\n",
        );
        let Event::Hello {
            reply: r,
            esmtp,
            extensions,
            ..
        } = t.event()
        else {
            panic!()
        };
        assert!(esmtp);
        assert_eq!(r.code().get(), 250);
        assert_eq!(r.line_count(), 10);
        let ext = extensions.unwrap();
        assert_eq!(t.client.extensions(), Some(&ext));
        assert!(ext.pipelining());
        assert!(ext.has("PIPELINING") && ext.has("Pipelining"));
        assert_eq!(ext.size(), Some(35_882_577));
        assert!(ext.eight_bit_mime());
        assert!(ext.starttls());
        assert!(ext.chunking());
        assert!(ext.enhanced_status_codes());
        assert!(!ext.smtputf8());
        assert!(!ext.dsn());
        assert_eq!(ext.auth_mechanisms(), ["LOGIN", "PLAIN", "CRAM-MD5"]);
        assert!(ext.supports_auth("plain") && ext.supports_auth("Cram-Md5"));
        assert_eq!(ext.params("x-vendor-thing"), Some("with params"));
        assert!(t.client.is_pipelining());
        assert_eq!(t.client.phase(), Phase::Ready);
        t.no_event();
        t.expect_sent("");
        assert_eq!(t.client.poll_timeout(), None);
    }
);

transcript!(
    ehlo_with_bare_250_has_no_extensions,
    Config::default(),
    |t| {
        greet(t);
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok("250\r\n");
        let Event::Hello {
            esmtp: true,
            extensions: Some(ext),
            ..
        } = t.event()
        else {
            panic!()
        };
        assert_eq!(ext.iter().count(), 0);
        assert_eq!(t.client.phase(), Phase::Ready);
    }
);

// RFC 5321 §4.1.4: "a client ... SHOULD fall back to HELO" when EHLO gets
// "500 command not recognized" or 502.
macro_rules! helo_fallback {
    ($name:ident, $refusal:literal) => {
        transcript!($name, Config::default(), |t| {
            greet(t);
            t.expect_sent("EHLO localhost\r\n");
            t.server_ok($refusal);
            // The refusal itself is not reported: the fallback answers for it.
            t.no_event();
            t.expect_sent("HELO localhost\r\n");
            assert_eq!(t.client.extensions(), None);
            t.server_ok("250 mx.example.org\r\n");
            let Event::Hello {
                reply: r,
                esmtp,
                extensions,
                ..
            } = t.event()
            else {
                panic!()
            };
            assert_eq!(r, reply(250, &["mx.example.org"]));
            assert!(!esmtp);
            assert_eq!(extensions, Some(Default::default()));
            assert_eq!(t.client.extensions(), Some(&Default::default()));
            assert_eq!(t.client.phase(), Phase::Ready);
            assert!(!t.client.is_pipelining());
            t.no_event();
            t.expect_sent("");
            // No extension may be used after HELO.
            assert_eq!(
                t.cmd(|c| c.starttls()),
                Err(UsageError::ExtensionNotAdvertised("STARTTLS"))
            );
            let env = Envelope::new(
                ReversePath::parse("a@b.example").unwrap(),
                [ForwardPath::parse("c@d.example").unwrap()],
            );
            let _ = t
                .cmd(|c| c.send_mail(&env, BodyOptions::default()))
                .unwrap();
            t.expect_sent("MAIL FROM:<a@b.example>\r\n");
        });
    };
}

helo_fallback!(
    ehlo_500_falls_back_to_helo,
    "500 5.5.1 Command unrecognized\r\n"
);
helo_fallback!(
    ehlo_502_falls_back_to_helo,
    "502 5.5.2 Command not implemented\r\n"
);

transcript!(
    fallback_keeps_the_ehlo_id,
    Config::default().with_auto_ehlo(false),
    |t| {
        greet(t);
        let id = t.cmd(|c| c.ehlo()).unwrap();
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok("502 not implemented\r\n");
        t.expect_sent("HELO localhost\r\n");
        t.server_ok("250 ok\r\n");
        let Event::Hello {
            id: got,
            esmtp: false,
            ..
        } = t.event()
        else {
            panic!()
        };
        assert_eq!(got, id);
    }
);

transcript!(
    helo_refused_after_fallback,
    Config::default().with_auto_ehlo(false),
    |t| {
        greet(t);
        let id = t.cmd(|c| c.ehlo()).unwrap();
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok("500 what?\r\n");
        t.expect_sent("HELO localhost\r\n");
        t.server_ok("501 5.5.4 Invalid domain\r\n");
        assert_eq!(
            t.event(),
            Event::Hello {
                id,
                reply: reply(501, &["5.5.4 Invalid domain"]),
                esmtp: false,
                extensions: None,
            }
        );
        assert_eq!(t.client.phase(), Phase::Connected);
        // Exactly one fallback: no EHLO/HELO ping-pong.
        t.expect_sent("");
        t.no_event();
    }
);

// Any other refusal is reported as is: no HELO.
macro_rules! no_fallback {
    ($name:ident, $refusal:literal, $code:literal) => {
        transcript!($name, Config::default(), |t| {
            greet(t);
            t.expect_sent("EHLO localhost\r\n");
            t.server_ok($refusal);
            let Event::Hello {
                reply: r,
                esmtp,
                extensions,
                ..
            } = t.event()
            else {
                panic!()
            };
            assert_eq!(r.code().get(), $code);
            assert!(esmtp);
            assert_eq!(extensions, None);
            assert_eq!(t.client.extensions(), None);
            assert_eq!(t.client.phase(), Phase::Connected);
            t.expect_sent("");
            // The caller may retry or quit; mail needs a successful hello.
            let env = Envelope::new(
                ReversePath::parse("a@b.example").unwrap(),
                [ForwardPath::parse("c@d.example").unwrap()],
            );
            assert!(matches!(
                t.cmd(|c| c.send_mail(&env, BodyOptions::default())),
                Err(UsageError::NotAllowed {
                    command: "MAIL",
                    phase: Phase::Connected
                })
            ));
            let _ = t.cmd(|c| c.quit()).unwrap();
            t.expect_sent("QUIT\r\n");
        });
    };
}

no_fallback!(ehlo_550_does_not_fall_back, "550 5.7.1 Go away\r\n", 550);
no_fallback!(ehlo_501_does_not_fall_back, "501 5.5.4 Bad domain\r\n", 501);
no_fallback!(ehlo_454_does_not_fall_back, "454 4.7.0 Try later\r\n", 454);

// RFC 5321 §3.8 / rule 7: 421 ends the session; never HELO after it.
transcript!(ehlo_421_is_service_closing, Config::default(), |t| {
    greet(t);
    t.expect_sent("EHLO localhost\r\n");
    let closing = reply(421, &["4.7.0 mx.example.org closing"]);
    assert_eq!(
        t.feed("421 4.7.0 mx.example.org closing\r\n"),
        Err(Error::ServiceClosing {
            reply: closing.clone(),
            stage: Stage::Hello
        })
    );
    let Event::Hello {
        reply: r,
        esmtp: true,
        extensions: None,
        ..
    } = t.event()
    else {
        panic!()
    };
    assert_eq!(r, closing);
    t.no_event();
    t.expect_sent("");
    assert_eq!(t.cmd(|c| c.helo()), Err(UsageError::Closed));
});

transcript!(
    helo_421_after_fallback_is_service_closing,
    Config::default(),
    |t| {
        greet(t);
        t.expect_sent("EHLO localhost\r\n");
        t.server_ok("502 no\r\n");
        t.expect_sent("HELO localhost\r\n");
        let r = t.feed("421 bye\r\n");
        assert!(
            matches!(
                r,
                Err(Error::ServiceClosing {
                    stage: Stage::Hello,
                    ..
                })
            ),
            "{r:?}"
        );
        assert!(matches!(
            t.event(),
            Event::Hello {
                esmtp: false,
                extensions: None,
                ..
            }
        ));
        t.expect_sent("");
    }
);

// RFC 2033 §4.1: LMTP has LHLO and no HELO.
transcript!(lmtp_sends_lhlo, Config::lmtp(), |t| {
    greet(t);
    t.expect_sent("LHLO localhost\r\n");
    t.server_ok("250-mx.example.org\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n");
    let Event::Hello {
        esmtp: true,
        extensions: Some(ext),
        ..
    } = t.event()
    else {
        panic!()
    };
    assert!(ext.pipelining() && ext.enhanced_status_codes());
    assert_eq!(t.client.phase(), Phase::Ready);
    assert_eq!(t.cmd(|c| c.helo()), Err(UsageError::WrongDialect("HELO")));
    let _ = t.cmd(|c| c.ehlo()).unwrap();
    t.expect_sent("LHLO localhost\r\n");
});

macro_rules! lmtp_never_helo {
    ($name:ident, $refusal:literal) => {
        transcript!($name, Config::lmtp(), |t| {
            greet(t);
            t.expect_sent("LHLO localhost\r\n");
            t.server_ok($refusal);
            let Event::Hello {
                esmtp: true,
                extensions: None,
                ..
            } = t.event()
            else {
                panic!()
            };
            t.expect_sent("");
            assert_eq!(t.client.phase(), Phase::Connected);
            assert_eq!(t.cmd(|c| c.helo()), Err(UsageError::WrongDialect("HELO")));
            t.expect_sent("");
        });
    };
}

lmtp_never_helo!(
    lmtp_lhlo_500_never_sends_helo,
    "500 5.5.1 unknown command\r\n"
);
lmtp_never_helo!(
    lmtp_lhlo_502_never_sends_helo,
    "502 5.5.2 not implemented\r\n"
);

transcript!(
    helo_in_lmtp_before_greeting_is_wrong_dialect,
    Config::lmtp(),
    |t| {
        assert_eq!(t.cmd(|c| c.helo()), Err(UsageError::WrongDialect("HELO")));
    }
);

transcript!(re_ehlo_replaces_extensions, Config::default(), |t| {
    t.ready(&["PIPELINING", "SIZE 1000", "AUTH PLAIN"]);
    assert!(t.client.extensions().unwrap().pipelining());
    let id = t.cmd(|c| c.ehlo()).unwrap();
    t.expect_sent("EHLO localhost\r\n");
    // While the new EHLO is out, the old capabilities still stand.
    assert!(t.client.extensions().unwrap().pipelining());
    t.server_ok(ehlo_reply(&["8BITMIME"]));
    let Event::Hello {
        id: got,
        extensions: Some(ext),
        ..
    } = t.event()
    else {
        panic!()
    };
    assert_eq!(got, id);
    let now = t.client.extensions().unwrap();
    assert_eq!(now, &ext);
    assert!(now.eight_bit_mime());
    assert!(!now.pipelining());
    assert_eq!(now.size(), None);
    assert!(!now.has("AUTH"));
    assert!(now.auth_mechanisms().is_empty());
});

transcript!(refused_re_ehlo_forgets_extensions, Config::default(), |t| {
    t.ready(&["PIPELINING", "STARTTLS"]);
    let _ = t.cmd(|c| c.ehlo()).unwrap();
    t.expect_sent("EHLO localhost\r\n");
    t.server_ok("550 no\r\n");
    assert!(matches!(
        t.event(),
        Event::Hello {
            extensions: None,
            ..
        }
    ));
    assert_eq!(t.client.extensions(), None);
    assert_eq!(t.client.phase(), Phase::Connected);
    assert!(matches!(
        t.cmd(|c| c.starttls()),
        Err(UsageError::NotAllowed { .. })
    ));
});

transcript!(explicit_helo_has_no_extensions, Config::default(), |t| {
    t.ready(&["PIPELINING", "STARTTLS"]);
    let id = t.cmd(|c| c.helo()).unwrap();
    t.expect_sent("HELO localhost\r\n");
    t.server_ok("250 mx.example.org\r\n");
    assert_eq!(
        t.event(),
        Event::Hello {
            id,
            reply: reply(250, &["mx.example.org"]),
            esmtp: false,
            extensions: Some(Default::default()),
        }
    );
    assert!(!t.client.is_pipelining());
});

transcript!(
    custom_client_domain_in_ehlo,
    Config::default().with_client_domain(smtp_proto::Domain::parse("client.example.net").unwrap()),
    |t| {
        greet(t);
        t.expect_sent("EHLO client.example.net\r\n");
        t.server_ok("502 no\r\n");
        t.expect_sent("HELO client.example.net\r\n");
    }
);

transcript!(ehlo_during_transaction_is_refused, Config::default(), |t| {
    t.ready(&[]);
    let env = Envelope::new(
        ReversePath::parse("a@b.example").unwrap(),
        [ForwardPath::parse("c@d.example").unwrap()],
    );
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::TransactionInProgress));
    assert_eq!(t.cmd(|c| c.helo()), Err(UsageError::TransactionInProgress));
    t.expect_sent("MAIL FROM:<a@b.example>\r\n");
});

transcript!(ehlo_reply_split_across_reads, Config::default(), |t| {
    greet(t);
    t.expect_sent("EHLO localhost\r\n");
    t.server_ok("250-mx.example.org\r\n250-PIPE");
    t.no_event();
    assert_eq!(t.client.extensions(), None);
    t.server_ok("LINING\r\n250 SIZE 10\r\n");
    let Event::Hello {
        extensions: Some(ext),
        ..
    } = t.event()
    else {
        panic!()
    };
    assert!(ext.pipelining());
    assert_eq!(ext.size(), Some(10));
});
