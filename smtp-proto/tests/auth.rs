//! AUTH (RFC 4954) and its challenge flow (rule 3, rule 11).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Harness, reply};
use smtp_proto::auth::{Authenticator, CramMd5, Login, Plain};
use smtp_proto::{
    BodyOptions, Config, Envelope, Error, Event, ForwardPath, Mechanism, Phase, ProtocolError,
    ReversePath, Secret, Stage, UsageError,
};

/// Implicit TLS (the adapter did the handshake), then EHLO with `caps`.
fn tls_ready(t: &mut Harness, caps: &[&str]) {
    t.client.set_tls(true);
    t.ready(caps);
}

fn secret(bytes: &[u8]) -> Option<Secret<Vec<u8>>> {
    Some(Secret::new(bytes.to_vec()))
}

/// The decoded challenge of an `AuthChallenge` event.
fn challenge(t: &mut Harness, id: smtp_proto::CommandId) -> Vec<u8> {
    match t.event() {
        Event::AuthChallenge { id: got, challenge } => {
            assert_eq!(got, id);
            challenge.into_inner()
        }
        e => panic!("expected AuthChallenge, got {e:?}"),
    }
}

// RFC 4954 §4: "C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ= / S: 235 2.7.0
// Authentication successful".
transcript!(plain_with_initial_response, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN LOGIN"]);
    let id = t
        .cmd(|c| c.auth(Mechanism::PLAIN, secret(b"test\0test\x001234")))
        .unwrap();
    t.expect_sent("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n");
    assert_eq!(t.deadline_in(), Some(std::time::Duration::from_secs(300)));
    t.server_ok("235 2.7.0 Authentication successful\r\n");
    assert_eq!(
        t.event(),
        Event::AuthSucceeded {
            id,
            reply: reply(235, &["2.7.0 Authentication successful"])
        }
    );
    t.no_event();
    t.expect_sent("");
    assert_eq!(t.client.poll_timeout(), None);
    // The session is free again.
    let _ = t.cmd(|c| c.noop()).unwrap();
    t.expect_sent("NOOP\r\n");
});

transcript!(plain_built_by_the_helper, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN"]);
    let mut plain = Plain::new("tim", "tanstaaftanstaaf");
    let ir = plain.initial_response();
    let _ = t.cmd(|c| c.auth(plain.mechanism(), ir)).unwrap();
    t.expect_sent("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
});

// RFC 4954 §4: "If the client is transmitting an initial response of zero
// length, it MUST instead transmit the response as a single equals sign".
transcript!(
    empty_initial_response_is_equals_sign,
    Config::default(),
    |t| {
        t.ready(&["AUTH EXTERNAL"]);
        let external = Mechanism::parse("EXTERNAL").unwrap();
        let id = t.cmd(|c| c.auth(external, secret(b""))).unwrap();
        t.expect_sent("AUTH EXTERNAL =\r\n");
        t.server_ok("235 2.7.0 Authentication successful\r\n");
        assert!(matches!(t.event(), Event::AuthSucceeded { id: got, .. } if got == id));
    }
);

// RFC 4954 §4 example without initial response: "S: 334 " (empty
// challenge), the client answers with the PLAIN message.
transcript!(plain_without_initial_response, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN"]);
    let mut plain = Plain::new("test", "1234").with_authzid("test");
    let id = t.cmd(|c| c.auth(Mechanism::PLAIN, None)).unwrap();
    t.expect_sent("AUTH PLAIN\r\n");
    t.server_ok("334 \r\n");
    let ch = challenge(t, id);
    assert!(ch.is_empty());
    t.no_event();
    t.expect_sent("");
    let answer = plain.respond(&ch).unwrap();
    t.cmd(|c| c.auth_respond(answer)).unwrap();
    t.expect_sent("dGVzdAB0ZXN0ADEyMzQ=\r\n");
    t.server_ok("235 2.7.0 Authentication successful\r\n");
    assert!(matches!(t.event(), Event::AuthSucceeded { .. }));
});

// draft-murchison-sasl-login: two challenges, user name then password.
transcript!(login_two_challenges, Config::default(), |t| {
    tls_ready(t, &["AUTH LOGIN PLAIN"]);
    let mut login = Login::new("tim", "tanstaaftanstaaf");
    let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.expect_sent("AUTH LOGIN\r\n");
    t.server_ok("334 VXNlcm5hbWU6\r\n");
    let ch = challenge(t, id);
    assert_eq!(ch, b"Username:");
    // While the caller thinks, nothing else may be queued.
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::AuthInProgress));
    t.cmd(|c| c.auth_respond(login.respond(&ch).unwrap()))
        .unwrap();
    t.expect_sent("dGlt\r\n");
    assert_eq!(
        t.cmd(|c| c.auth_respond(secret(b"x").unwrap())),
        Err(UsageError::NoAuthChallenge)
    );
    t.server_ok("334 UGFzc3dvcmQ6\r\n");
    let ch = challenge(t, id);
    assert_eq!(ch, b"Password:");
    t.cmd(|c| c.auth_respond(login.respond(&ch).unwrap()))
        .unwrap();
    t.expect_sent("dGFuc3RhYWZ0YW5zdGFhZg==\r\n");
    t.server_ok("235 2.7.0 Authentication successful\r\n");
    assert_eq!(
        t.event(),
        Event::AuthSucceeded {
            id,
            reply: reply(235, &["2.7.0 Authentication successful"])
        }
    );
    t.no_event();
    t.expect_sent("");
});

// RFC 2195 §2, the example exchange (CRAM-MD5 keeps the password off the
// wire, so it needs no TLS).
transcript!(cram_md5_rfc2195_example, Config::default(), |t| {
    t.ready(&["AUTH CRAM-MD5"]);
    let mut cram = CramMd5::new("tim", "tanstaaftanstaaf");
    let id = t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)).unwrap();
    t.expect_sent("AUTH CRAM-MD5\r\n");
    t.server_ok("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
    let ch = challenge(t, id);
    assert_eq!(ch, b"<1896.697170952@postoffice.reston.mci.net>");
    t.cmd(|c| c.auth_respond(cram.respond(&ch).unwrap()))
        .unwrap();
    t.expect_sent("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
    t.server_ok("235 2.7.0 Authentication successful\r\n");
    assert!(matches!(t.event(), Event::AuthSucceeded { .. }));
});

// RFC 4954 §4: "If the client wishes to cancel the authentication exchange,
// it issues a line with a single "*". ... the server MUST reject the AUTH
// command by sending a 501 reply."
transcript!(cancel_with_star, Config::default(), |t| {
    tls_ready(t, &["AUTH LOGIN"]);
    let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.expect_sent("AUTH LOGIN\r\n");
    t.server_ok("334 VXNlcm5hbWU6\r\n");
    let _ = challenge(t, id);
    t.cmd(|c| c.auth_cancel()).unwrap();
    t.expect_sent("*\r\n");
    assert_eq!(t.cmd(|c| c.auth_cancel()), Err(UsageError::NoAuthChallenge));
    t.server_ok("501 5.7.0 Authentication cancelled\r\n");
    assert_eq!(
        t.event(),
        Event::AuthFailed {
            id,
            reply: reply(501, &["5.7.0 Authentication cancelled"])
        }
    );
    t.no_event();
    assert_eq!(t.client.phase(), Phase::Ready);
    // Another attempt is allowed.
    let _ = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.expect_sent("AUTH LOGIN\r\n");
});

// rule 11: an invalid base64 challenge is answered with `*` by the
// client itself; the caller only sees the failure.
macro_rules! bad_challenge {
    ($name:ident, $line:literal) => {
        transcript!($name, Config::default(), |t| {
            tls_ready(t, &["AUTH LOGIN"]);
            let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
            t.expect_sent("AUTH LOGIN\r\n");
            t.server_ok($line);
            t.no_event();
            t.expect_sent("*\r\n");
            assert_eq!(t.deadline_in(), Some(std::time::Duration::from_secs(300)));
            assert_eq!(
                t.cmd(|c| c.auth_respond(secret(b"tim").unwrap())),
                Err(UsageError::NoAuthChallenge)
            );
            assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::AuthInProgress));
            t.server_ok("501 5.5.2 Cannot decode response\r\n");
            assert_eq!(
                t.event(),
                Event::AuthFailed {
                    id,
                    reply: reply(501, &["5.5.2 Cannot decode response"])
                }
            );
            t.no_event();
            t.expect_sent("");
        });
    };
}

bad_challenge!(invalid_base64_challenge, "334 VXNlcm5hbWU6!!\r\n");
bad_challenge!(challenge_with_bad_padding, "334 VXNlcm5hbWU\r\n");
bad_challenge!(challenge_not_base64_at_all, "334 Username:\r\n");

fn x_test() -> Mechanism {
    Mechanism::parse("X-TEST").unwrap()
}

// smtplib stops after 5 rounds; so do we (`max_auth_rounds`).
transcript!(too_many_rounds_default_five, Config::default(), |t| {
    t.ready(&["AUTH X-TEST"]);
    let id = t.cmd(|c| c.auth(x_test(), None)).unwrap();
    t.expect_sent("AUTH X-TEST\r\n");
    for round in 1..=5 {
        t.server_ok("334 bW9yZQ==\r\n");
        assert_eq!(challenge(t, id), b"more", "round {round}");
        t.cmd(|c| c.auth_respond(secret(b"answer").unwrap()))
            .unwrap();
        t.expect_sent("YW5zd2Vy\r\n");
    }
    t.server_ok("334 bW9yZQ==\r\n");
    t.no_event();
    t.expect_sent("*\r\n");
    t.server_ok("501 5.7.0 cancelled\r\n");
    assert!(matches!(t.event(), Event::AuthFailed { id: got, .. } if got == id));
    t.no_event();
});

transcript!(
    too_many_rounds_custom,
    Config::default().with_max_auth_rounds(1),
    |t| {
        t.ready(&["AUTH X-TEST"]);
        let id = t.cmd(|c| c.auth(x_test(), None)).unwrap();
        t.expect_sent("AUTH X-TEST\r\n");
        t.server_ok("334 \r\n");
        assert_eq!(challenge(t, id), b"");
        t.cmd(|c| c.auth_respond(secret(b"").unwrap())).unwrap();
        // An empty response is an empty line (RFC 4954 §4), not "=".
        t.expect_sent("\r\n");
        t.server_ok("334 \r\n");
        t.no_event();
        t.expect_sent("*\r\n");
        t.server_ok("535 5.7.8 no\r\n");
        assert!(matches!(t.event(), Event::AuthFailed { .. }));
    }
);

transcript!(
    zero_rounds_cancels_first_challenge,
    Config::default().with_max_auth_rounds(0),
    |t| {
        tls_ready(t, &["AUTH LOGIN"]);
        let _ = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
        t.expect_sent("AUTH LOGIN\r\n");
        t.server_ok("334 VXNlcm5hbWU6\r\n");
        t.no_event();
        t.expect_sent("*\r\n");
    }
);

// rule 11: "503 to AUTH is not success".
transcript!(auth_503_is_failure, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN"]);
    let id = t
        .cmd(|c| c.auth(Mechanism::PLAIN, secret(b"\0u\0p")))
        .unwrap();
    t.expect_sent("AUTH PLAIN AHUAcA==\r\n");
    t.server_ok("503 5.5.1 Already authenticated\r\n");
    assert_eq!(
        t.event(),
        Event::AuthFailed {
            id,
            reply: reply(503, &["5.5.1 Already authenticated"])
        }
    );
    t.no_event();
    t.expect_sent("");
});

transcript!(auth_535_is_failure, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN"]);
    let id = t
        .cmd(|c| c.auth(Mechanism::PLAIN, secret(b"\0u\0wrong")))
        .unwrap();
    t.expect_sent("AUTH PLAIN AHUAd3Jvbmc=\r\n");
    t.server_ok("535 5.7.8 Authentication credentials invalid\r\n");
    assert_eq!(
        t.event(),
        Event::AuthFailed {
            id,
            reply: reply(535, &["5.7.8 Authentication credentials invalid"])
        }
    );
    t.no_event();
    assert_eq!(t.client.phase(), Phase::Ready);
    t.expect_sent("");
});

transcript!(
    auth_454_after_challenge_is_failure,
    Config::default(),
    |t| {
        tls_ready(t, &["AUTH LOGIN"]);
        let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
        t.server_ok("334 VXNlcm5hbWU6\r\n");
        let _ = challenge(t, id);
        t.cmd(|c| c.auth_respond(secret(b"tim").unwrap())).unwrap();
        t.expect_sent("AUTH LOGIN\r\ndGlt\r\n");
        t.server_ok("454 4.7.0 Temporary authentication failure\r\n");
        assert!(matches!(t.event(), Event::AuthFailed { .. }));
        assert_eq!(
            t.cmd(|c| c.auth_respond(secret(b"x").unwrap())),
            Err(UsageError::NoAuthChallenge)
        );
    }
);

// rule 3: no password in plaintext unless the caller opts in.
transcript!(plaintext_auth_refused_without_tls, Config::default(), |t| {
    t.ready(&["AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER CRAM-MD5"]);
    for mech in [
        Mechanism::PLAIN,
        Mechanism::LOGIN,
        Mechanism::XOAUTH2,
        Mechanism::OAUTHBEARER,
    ] {
        assert_eq!(
            t.cmd(|c| c.auth(mech.clone(), secret(b"\0u\0p"))),
            Err(UsageError::PlaintextAuthRefused(mech))
        );
    }
    assert_eq!(
        t.cmd(|c| c.auth(Mechanism::parse("plain").unwrap(), None)),
        Err(UsageError::PlaintextAuthRefused(Mechanism::PLAIN))
    );
    t.expect_sent("");
    t.no_event();
    // A mechanism that keeps the password off the wire is fine.
    let _ = t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)).unwrap();
    t.expect_sent("AUTH CRAM-MD5\r\n");
});

transcript!(
    plaintext_auth_allowed_when_opted_in,
    Config::default().with_allow_plaintext_auth(true),
    |t| {
        t.ready(&["AUTH PLAIN"]);
        assert!(!t.client.is_tls());
        let _ = t
            .cmd(|c| c.auth(Mechanism::PLAIN, secret(b"\0u\0p")))
            .unwrap();
        t.expect_sent("AUTH PLAIN AHUAcA==\r\n");
    }
);

transcript!(mechanism_not_advertised, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN"]);
    assert_eq!(
        t.cmd(|c| c.auth(Mechanism::LOGIN, None)),
        Err(UsageError::MechanismNotAdvertised(Mechanism::LOGIN))
    );
    assert_eq!(
        t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)),
        Err(UsageError::MechanismNotAdvertised(Mechanism::CRAM_MD5))
    );
    t.expect_sent("");
    // The session is unchanged.
    let _ = t
        .cmd(|c| c.auth(Mechanism::PLAIN, secret(b"\0u\0p")))
        .unwrap();
    t.expect_sent("AUTH PLAIN AHUAcA==\r\n");
});

transcript!(auth_not_advertised, Config::default(), |t| {
    tls_ready(t, &["PIPELINING", "8BITMIME"]);
    assert_eq!(
        t.cmd(|c| c.auth(Mechanism::PLAIN, secret(b"\0u\0p"))),
        Err(UsageError::ExtensionNotAdvertised("AUTH"))
    );
    t.expect_sent("");
});

transcript!(legacy_auth_equals_counts, Config::default(), |t| {
    tls_ready(t, &["AUTH=LOGIN"]);
    let _ = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.expect_sent("AUTH LOGIN\r\n");
});

transcript!(
    unadvertised_auth_when_allowed,
    Config::default().with_allow_unadvertised_auth(true),
    |t| {
        tls_ready(t, &["PIPELINING"]);
        let _ = t
            .cmd(|c| c.auth(Mechanism::PLAIN, secret(b"\0u\0p")))
            .unwrap();
        t.expect_sent("AUTH PLAIN AHUAcA==\r\n");
    }
);

transcript!(
    unadvertised_auth_still_needs_tls,
    Config::default().with_allow_unadvertised_auth(true),
    |t| {
        t.ready(&[]);
        assert_eq!(
            t.cmd(|c| c.auth(Mechanism::LOGIN, None)),
            Err(UsageError::PlaintextAuthRefused(Mechanism::LOGIN))
        );
    }
);

transcript!(auth_before_ehlo_is_not_allowed, Config::default(), |t| {
    t.client.set_tls(true);
    t.server_ok("220 mx\r\n");
    let _ = t.event();
    assert!(matches!(
        t.cmd(|c| c.auth(Mechanism::PLAIN, None)),
        Err(UsageError::NotAllowed {
            command: "AUTH",
            phase: Phase::Connected
        })
    ));
    t.expect_sent("EHLO localhost\r\n");
});

transcript!(commands_refused_during_auth, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN LOGIN", "STARTTLS"]);
    let _ = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.expect_sent("AUTH LOGIN\r\n");
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::AuthInProgress));
    assert_eq!(t.cmd(|c| c.ehlo()), Err(UsageError::AuthInProgress));
    assert_eq!(
        t.cmd(|c| c.auth(Mechanism::PLAIN, None)),
        Err(UsageError::AuthInProgress)
    );
    assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::AuthInProgress));
    let env = Envelope::new(
        ReversePath::parse("a@b.example").unwrap(),
        [ForwardPath::parse("c@d.example").unwrap()],
    );
    assert_eq!(
        t.cmd(|c| c.send_mail(&env, BodyOptions::default())),
        Err(UsageError::AuthInProgress)
    );
    assert_eq!(
        t.cmd(|c| c.auth_respond(secret(b"x").unwrap())),
        Err(UsageError::NoAuthChallenge)
    );
    t.expect_sent("");
});

// RFC 5321 §3.8 / rule 7: 421 ends the session; no other mechanism is tried.
transcript!(auth_421_reply, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN LOGIN"]);
    let id = t
        .cmd(|c| c.auth(Mechanism::PLAIN, secret(b"\0u\0p")))
        .unwrap();
    t.expect_sent("AUTH PLAIN AHUAcA==\r\n");
    let closing = reply(421, &["4.7.0 Too many errors"]);
    assert_eq!(
        t.feed("421 4.7.0 Too many errors\r\n"),
        Err(Error::ServiceClosing {
            reply: closing.clone(),
            stage: Stage::Auth
        })
    );
    assert_eq!(t.event(), Event::AuthFailed { id, reply: closing });
    t.no_event();
    t.expect_sent("");
    assert_eq!(
        t.cmd(|c| c.auth(Mechanism::LOGIN, None)),
        Err(UsageError::Closed)
    );
});

transcript!(
    auth_421_while_caller_holds_challenge,
    Config::default(),
    |t| {
        tls_ready(t, &["AUTH LOGIN"]);
        let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
        t.server_ok("334 VXNlcm5hbWU6\r\n");
        let _ = challenge(t, id);
        let r = t.feed("421 4.4.2 Timeout waiting for you\r\n");
        assert!(
            matches!(
                r,
                Err(Error::ServiceClosing {
                    stage: Stage::Auth,
                    ..
                })
            ),
            "{r:?}"
        );
        assert!(matches!(t.event(), Event::AuthFailed { .. }));
        // The credentials are not sent after all.
        assert_eq!(
            t.cmd(|c| c.auth_respond(secret(b"tim").unwrap())),
            Err(UsageError::Closed)
        );
        t.expect_sent("AUTH LOGIN\r\n");
    }
);

// A reply while the caller holds the challenge answers nothing the client
// sent: the conversation is out of step.
transcript!(reply_while_caller_holds_challenge, Config::default(), |t| {
    tls_ready(t, &["AUTH LOGIN"]);
    let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.server_ok("334 VXNlcm5hbWU6\r\n");
    let _ = challenge(t, id);
    assert_eq!(
        t.feed("235 2.7.0 Welcome anyway\r\n"),
        Err(ProtocolError::UnexpectedReply {
            reply: reply(235, &["2.7.0 Welcome anyway"])
        }
        .into())
    );
    t.no_event();
    assert_eq!(
        t.cmd(|c| c.auth_respond(secret(b"tim").unwrap())),
        Err(UsageError::Closed)
    );
    t.expect_sent("AUTH LOGIN\r\n");
});

transcript!(eof_during_auth, Config::default(), |t| {
    tls_ready(t, &["AUTH LOGIN"]);
    let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.server_ok("334 VXNlcm5hbWU6\r\n");
    let _ = challenge(t, id);
    assert_eq!(t.eof(), Err(Error::PeerClosed { stage: Stage::Auth }));
});

transcript!(auth_then_mail, Config::default(), |t| {
    tls_ready(t, &["AUTH PLAIN", "PIPELINING"]);
    let _ = t
        .cmd(|c| c.auth(Mechanism::PLAIN, secret(b"\0u\0p")))
        .unwrap();
    t.expect_sent("AUTH PLAIN AHUAcA==\r\n");
    t.server_ok("235 ok\r\n");
    let _ = t.event();
    let env = Envelope::new(
        ReversePath::parse("a@b.example").unwrap(),
        [ForwardPath::parse("c@d.example").unwrap()],
    );
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
});

// RFC 4954 §4: after "*" the server MUST reject the AUTH command with 501.
// A server that challenges again gets no credentials: the client cancels
// again, and the caller never sees the challenge.
transcript!(
    challenge_after_caller_cancel_is_cancelled_again,
    Config::default(),
    |t| {
        tls_ready(t, &["AUTH LOGIN"]);
        let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
        t.expect_sent("AUTH LOGIN\r\n");
        t.server_ok("334 VXNlcm5hbWU6\r\n");
        let _ = challenge(t, id);
        t.cmd(|c| c.auth_cancel()).unwrap();
        t.expect_sent("*\r\n");
        t.server_ok("334 UGFzc3dvcmQ6\r\n");
        t.no_event();
        t.expect_sent("*\r\n");
        assert_eq!(
            t.cmd(|c| c.auth_respond(secret(b"pw").unwrap())),
            Err(UsageError::NoAuthChallenge)
        );
        t.server_ok("501 5.7.0 cancelled\r\n");
        assert!(matches!(t.event(), Event::AuthFailed { .. }));
    }
);

transcript!(
    challenge_after_client_cancel_is_cancelled_again,
    Config::default(),
    |t| {
        tls_ready(t, &["AUTH LOGIN"]);
        let _ = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
        t.expect_sent("AUTH LOGIN\r\n");
        t.server_ok("334 not-base64!\r\n");
        t.expect_sent("*\r\n");
        t.server_ok("334 UGFzc3dvcmQ6\r\n");
        t.no_event();
        t.expect_sent("*\r\n");
        t.server_ok("501 5.7.0 cancelled\r\n");
        assert!(matches!(t.event(), Event::AuthFailed { .. }));
    }
);
