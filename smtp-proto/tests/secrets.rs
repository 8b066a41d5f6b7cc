//! No secret in `Debug` output (rule 11; str0m's `tests/pii.rs`).
//!
//! Runs AUTH exchanges and, at every step, formats everything a caller might
//! log: each event, each error, the `Client` itself (also while the AUTH
//! line still sits in its queues), the auth builders and the commands. None
//! may show the password, the base64 forms that went on the wire, or their
//! bytes as a `[104, 117, ...]` list.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::fmt::Debug;

use common::Harness;
use smtp_proto::auth::{Authenticator, CramMd5, Login, OAuthBearer, Plain, XOAuth2};
use smtp_proto::{Command, Config, Error, Event, Mechanism, Secret, UsageError};

const USER: &str = "alice@example.org";
const PASSWORD: &str = "hunter2-correct-horse";
const TOKEN: &str = "ya29.tok-SECRET-xyz";
/// base64("\0alice@example.org\0hunter2-correct-horse"), the AUTH PLAIN blob.
const PLAIN_B64: &str = "AGFsaWNlQGV4YW1wbGUub3JnAGh1bnRlcjItY29ycmVjdC1ob3JzZQ==";
/// base64("hunter2-correct-horse"), the LOGIN password line.
const PASSWORD_B64: &str = "aHVudGVyMi1jb3JyZWN0LWhvcnNl";
/// base64 of the XOAUTH2 initial response.
const XOAUTH2_B64: &str =
    "dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LnRvay1TRUNSRVQteHl6AQE=";

/// Every form in which a secret could show up in `Debug` text.
fn needles() -> Vec<String> {
    let mut needles = Vec::new();
    for secret in [PASSWORD, TOKEN, PLAIN_B64, PASSWORD_B64, XOAUTH2_B64] {
        needles.push(secret.to_owned());
        // A `Vec<u8>` prints as `[104, 117, ...]`, `{:#?}` one per line;
        // compared with all whitespace removed.
        let list: Vec<String> = secret.bytes().map(|b| b.to_string()).collect();
        needles.push(list.join(","));
    }
    needles
}

fn assert_clean(what: &str, text: &str) {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for needle in needles() {
        assert!(
            !text.contains(&needle) && !squeezed.contains(&needle),
            "{what} leaks {needle:?}: {text}"
        );
    }
}

fn sweep<T: Debug + ?Sized>(what: &str, value: &T) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

/// Sweeps the client and every event, and returns the events.
fn sweep_all(t: &mut Harness, step: &str) -> Vec<Event> {
    sweep(&format!("client at {step}"), &t.client);
    let events = t.events();
    for e in &events {
        sweep(&format!("event at {step}"), e);
    }
    sweep(&format!("client after events at {step}"), &t.client);
    events
}

fn sweep_result<T: Debug>(step: &str, r: &Result<T, UsageError>) {
    sweep(step, r);
    if let Err(e) = r {
        assert_clean(step, &e.to_string());
    }
}

fn sweep_error(step: &str, r: &Result<(), Error>) {
    sweep(step, r);
    if let Err(e) = r {
        assert_clean(step, &e.to_string());
    }
}

#[test]
fn needles_are_what_goes_on_the_wire() {
    // The constants above must be the real wire forms, or the sweep proves
    // nothing.
    let mut t = Harness::new(Config::default(), false);
    t.client.set_tls(true);
    t.ready(&["AUTH PLAIN LOGIN XOAUTH2"]);
    let plain = Plain::new(USER, PASSWORD).initial_response();
    let _ = t.cmd(|c| c.auth(Mechanism::PLAIN, plain)).unwrap();
    assert_eq!(t.sent(), format!("AUTH PLAIN {PLAIN_B64}\r\n"));
    t.server_ok("535 no\r\n");
    let _ = t.events();
    let _ = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.server_ok("334 VXNlcm5hbWU6\r\n");
    let _ = t.events();
    t.cmd(|c| c.auth_respond(Secret::new(PASSWORD.as_bytes().to_vec())))
        .unwrap();
    assert_eq!(t.sent(), format!("AUTH LOGIN\r\n{PASSWORD_B64}\r\n"));
    t.server_ok("535 no\r\n");
    let _ = t.events();
    let xoauth = XOAuth2::new(USER, TOKEN).initial_response();
    let _ = t.cmd(|c| c.auth(Mechanism::XOAUTH2, xoauth)).unwrap();
    assert_eq!(t.sent(), format!("AUTH XOAUTH2 {XOAUTH2_B64}\r\n"));
}

transcript!(plain_exchange_leaks_nothing, Config::default(), |t| {
    t.client.set_tls(true);
    t.ready(&["AUTH PLAIN LOGIN", "PIPELINING"]);
    let mut plain = Plain::new(USER, PASSWORD);
    sweep("Plain builder", &plain);
    let ir = plain.initial_response();
    sweep("PLAIN initial response", &ir);
    sweep("Plain builder after use", &plain);
    let command = Command::Auth {
        mechanism: Mechanism::PLAIN,
        initial_response: ir.clone(),
    };
    sweep("Command::Auth", &command);
    // Queued but not yet handed to poll_transmit: the line is in the client.
    let r = t.client.auth(Mechanism::PLAIN, ir);
    sweep_result("auth()", &r);
    sweep("client with AUTH line queued", &t.client);
    assert_eq!(t.sent(), format!("AUTH PLAIN {PLAIN_B64}\r\n"));
    sweep_all(t, "AUTH sent");
    t.server_ok("235 2.7.0 Authentication successful\r\n");
    let events = sweep_all(t, "235");
    assert!(matches!(events.as_slice(), [Event::AuthSucceeded { .. }]));
    for line in &t.log {
        assert_clean("harness log", line);
    }
});

transcript!(
    plain_queued_behind_a_command_leaks_nothing,
    Config::default(),
    |t| {
        t.client.set_tls(true);
        t.ready(&["AUTH PLAIN"]);
        let _ = t.cmd(|c| c.noop()).unwrap();
        t.expect_sent("NOOP\r\n");
        // AUTH waits behind the NOOP (it never joins a group): it sits in the
        // client's queue across calls.
        let ir = Plain::new(USER, PASSWORD).initial_response();
        let _ = t.cmd(|c| c.auth(Mechanism::PLAIN, ir)).unwrap();
        t.expect_sent("");
        sweep_all(t, "AUTH pending behind NOOP");
        t.server_ok("250 OK\r\n");
        assert_eq!(t.sent(), format!("AUTH PLAIN {PLAIN_B64}\r\n"));
        sweep_all(t, "after NOOP reply");
    }
);

transcript!(login_exchange_leaks_nothing, Config::default(), |t| {
    t.client.set_tls(true);
    t.ready(&["AUTH LOGIN"]);
    let mut login = Login::new(USER, PASSWORD);
    sweep("Login builder", &login);
    let id = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.expect_sent("AUTH LOGIN\r\n");
    t.server_ok("334 VXNlcm5hbWU6\r\n");
    let Event::AuthChallenge { id: got, challenge } = t.event() else {
        panic!()
    };
    assert_eq!(got, id);
    let user = login.respond(challenge.expose()).unwrap();
    t.cmd(|c| c.auth_respond(user)).unwrap();
    t.server_ok("334 UGFzc3dvcmQ6\r\n");
    let Event::AuthChallenge { challenge, .. } = t.event() else {
        panic!()
    };
    let password = login.respond(challenge.expose()).unwrap();
    sweep("LOGIN password answer", &password);
    sweep("Login builder after use", &login);
    sweep(
        "Command::AuthResponse",
        &Command::AuthResponse(password.clone()),
    );
    // Answered but not yet handed to poll_transmit.
    let r = t.client.auth_respond(password);
    sweep_result("auth_respond()", &r);
    sweep("client with password line queued", &t.client);
    let wire = t.sent();
    assert!(wire.ends_with(&format!("{PASSWORD_B64}\r\n")), "{wire}");
    sweep_all(t, "password sent");
    t.server_ok("235 2.7.0 ok\r\n");
    sweep_all(t, "235");
    for line in &t.log {
        assert_clean("harness log", line);
    }
});

transcript!(failures_leak_nothing, Config::default(), |t| {
    t.ready(&["AUTH PLAIN LOGIN XOAUTH2"]);
    // Refused locally: the error names the mechanism only.
    let ir = Plain::new(USER, PASSWORD).initial_response();
    let r = t.cmd(|c| c.auth(Mechanism::PLAIN, ir));
    assert_eq!(r, Err(UsageError::PlaintextAuthRefused(Mechanism::PLAIN)));
    sweep_result("PlaintextAuthRefused", &r);
    let ir = XOAuth2::new(USER, TOKEN).initial_response();
    let r = t.cmd(|c| c.auth(Mechanism::XOAUTH2, ir));
    sweep_result("PlaintextAuthRefused (XOAUTH2)", &r);
    sweep_all(t, "refusals");
    t.expect_sent("");
});

transcript!(fatal_error_mid_auth_leaks_nothing, Config::default(), |t| {
    t.client.set_tls(true);
    t.ready(&["AUTH LOGIN"]);
    let _ = t.cmd(|c| c.auth(Mechanism::LOGIN, None)).unwrap();
    t.server_ok("334 VXNlcm5hbWU6\r\n");
    let _ = t.events();
    t.cmd(|c| c.auth_respond(Secret::new(PASSWORD.as_bytes().to_vec())))
        .unwrap();
    // The server garbles its answer: the session fails.
    let r = t.feed("235-ok\r\n535 no\r\n");
    assert!(r.is_err());
    sweep_error("malformed reply", &r);
    sweep_all(t, "after failure");
    // Answered but the session died before the line was written.
    let r = t
        .client
        .auth_respond(Secret::new(PASSWORD.as_bytes().to_vec()));
    sweep_result("auth_respond after failure", &r);
    sweep("client", &t.client);
    let r = t.advance(std::time::Duration::from_secs(1));
    sweep_error("sticky error", &r);
});

transcript!(timeout_mid_auth_leaks_nothing, Config::default(), |t| {
    t.client.set_tls(true);
    t.ready(&["AUTH PLAIN"]);
    let ir = Plain::new(USER, PASSWORD).initial_response();
    let _ = t.cmd(|c| c.auth(Mechanism::PLAIN, ir)).unwrap();
    let r = t.advance(std::time::Duration::from_secs(3600));
    assert!(matches!(r, Err(Error::Timeout { .. })));
    sweep_error("timeout", &r);
    sweep_all(t, "timeout");
});

#[test]
fn builders_and_secrets_never_show_their_contents() {
    let mut cram = CramMd5::new(USER, PASSWORD);
    let mut xoauth = XOAuth2::new(USER, TOKEN);
    let mut bearer = OAuthBearer::new(USER, "mx.example.org", 587, TOKEN);
    sweep("CramMd5", &cram);
    sweep("XOAuth2", &xoauth);
    sweep("OAuthBearer", &bearer);
    sweep(
        "CRAM-MD5 answer",
        &cram.respond(b"<1896.697170952@postoffice.reston.mci.net>"),
    );
    sweep("XOAUTH2 initial response", &xoauth.initial_response());
    sweep("OAUTHBEARER initial response", &bearer.initial_response());
    sweep("CramMd5 after use", &cram);
    sweep("XOAuth2 after use", &xoauth);
    sweep("OAuthBearer after use", &bearer);
    sweep("Secret<String>", &Secret::new(PASSWORD.to_owned()));
    sweep(
        "Secret<Vec<u8>>",
        &Secret::new(PASSWORD.as_bytes().to_vec()),
    );
    sweep(
        "Command::Auth",
        &Command::Auth {
            mechanism: Mechanism::XOAUTH2,
            initial_response: xoauth.initial_response(),
        },
    );
    sweep(
        "AuthChallenge",
        &Event::AuthChallenge {
            id: {
                // Any id will do; get one from a real session.
                let mut t = Harness::new(Config::default(), false);
                t.ready(&["AUTH X"]);
                t.cmd(|c| c.noop()).unwrap()
            },
            challenge: Secret::new(PASSWORD.as_bytes().to_vec()),
        },
    );
}
