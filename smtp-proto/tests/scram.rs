//! SCRAM-SHA-256 through the operations layer ([`smtp_proto::session`]):
//! `login`'s automatic choice (random nonce, so the server's side is
//! computed here) and `authenticate` with RFC 7677's fixed messages,
//! `-PLUS` with channel binding data, a wrong or missing server signature,
//! `e=`, and a 535. Every transcript runs whole and byte by byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use smtp_proto::auth::{MechanismError, ScramSha256};
use smtp_proto::session::{Action, Error, Options, Session};
use smtp_proto::{Domain, Reply};

const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const CB: &[u8] = b"certificate hash";

struct Run {
    session: Session,
    now: Instant,
    wire: Vec<u8>,
    bytewise: bool,
}

impl Run {
    /// A session over implicit TLS whose server offers `mechanisms`.
    fn open(mechanisms: &str, binding: Option<&[u8]>, bytewise: bool) -> Run {
        let now = Instant::now();
        let local = Domain::parse("client.test").unwrap();
        let mut session = Session::connect(&Options::default(), local, true, now);
        session.set_channel_binding(binding.map(<[u8]>::to_vec));
        let mut run = Run {
            session,
            now,
            wire: Vec::new(),
            bytewise,
        };
        run.server("220 mx ESMTP\r\n", None);
        assert_eq!(run.client(None), "EHLO client.test\r\n");
        run.server(&format!("250-mx\r\n250 AUTH {mechanisms}\r\n"), None);
        assert_eq!(run.drive(None), Action::Done);
        run.session.take_output::<()>().unwrap();
        run
    }

    fn drive(&mut self, mut auth: Option<&mut ScramSha256>) -> Action {
        loop {
            let action = self.session.poll_action(self.now);
            if self
                .session
                .poll_transmit(self.now, &mut self.wire)
                .is_some()
            {
                continue;
            }
            match action {
                Action::AuthAnswer => self.session.answer_with(auth.as_deref_mut()),
                Action::AuthFinish => self.session.finish_with(auth.as_deref_mut()),
                other => return other,
            }
        }
    }

    fn server(&mut self, text: &str, auth: Option<&mut ScramSha256>) {
        if self.bytewise {
            for b in text.as_bytes() {
                self.session.handle_input(self.now, std::slice::from_ref(b));
            }
        } else {
            self.session.handle_input(self.now, text.as_bytes());
        }
        let _ = self.drive(auth);
    }

    fn client(&mut self, auth: Option<&mut ScramSha256>) -> String {
        let _ = self.drive(auth);
        String::from_utf8(std::mem::take(&mut self.wire)).unwrap()
    }

    fn done(&mut self, auth: Option<&mut ScramSha256>) -> Result<Reply, Error> {
        assert_eq!(self.drive(auth), Action::Done, "operation not done");
        self.session.take_output()
    }
}

fn both(f: impl Fn(bool)) {
    f(false);
    f(true);
}

fn b64(b: impl AsRef<[u8]>) -> String {
    STANDARD.encode(b)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The server's side for the client-first on the wire (an `AUTH` line):
/// server-first, the client-final it expects, and server-final.
fn server_side(auth_line: &str, password: &str, binding: &[u8]) -> (String, String, String) {
    let b64_first = auth_line.trim_end().rsplit(' ').next().unwrap();
    let first = String::from_utf8(STANDARD.decode(b64_first).unwrap()).unwrap();
    let mut parts = first.splitn(3, ',');
    let (flag, authzid, bare) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let nonce = format!("{}{SERVER_NONCE}", bare.split_once(",r=").unwrap().1);
    let server_first = format!("r={nonce},s={SALT},i=4096");
    let mut cbind = format!("{flag},{authzid},").into_bytes();
    if flag.starts_with("p=") {
        cbind.extend_from_slice(binding);
    }
    let without_proof = format!("c={},r={nonce}", b64(&cbind));
    let auth_message = format!("{bare},{server_first},{without_proof}");
    let mut salted = [0u8; 32];
    let salt = STANDARD.decode(SALT).unwrap();
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, 4096, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let signature = hmac(&Sha256::digest(&client_key), auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let server_signature = hmac(&hmac(&salted, b"Server Key"), auth_message.as_bytes());
    (
        b64(server_first),
        b64(format!("{without_proof},p={}", b64(proof))),
        b64(format!("v={}", b64(server_signature))),
    )
}

fn rfc() -> ScramSha256 {
    ScramSha256::with_nonce("user", "pencil", NONCE).unwrap()
}

/// RFC 7677 §3's messages, base64.
const C1: &str = "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=";

#[test]
fn authenticate_rfc_7677_example() {
    both(|bw| {
        let mut run = Run::open("PLAIN SCRAM-SHA-256", None, bw);
        let mut auth = rfc();
        run.session.authenticate(run.now, &mut auth);
        assert_eq!(
            run.client(Some(&mut auth)),
            format!("AUTH SCRAM-SHA-256 {C1}\r\n")
        );
        let (s1, c2, s2) = server_side(C1, "pencil", b"");
        assert_eq!(
            STANDARD.decode(&c2).unwrap(),
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        run.server(&format!("334 {s1}\r\n"), Some(&mut auth));
        assert_eq!(run.client(Some(&mut auth)), format!("{c2}\r\n"));
        run.server(&format!("334 {s2}\r\n"), Some(&mut auth));
        assert_eq!(run.client(Some(&mut auth)), "\r\n");
        run.server("235 2.7.0 ok\r\n", Some(&mut auth));
        assert_eq!(run.done(Some(&mut auth)).unwrap().code().get(), 235);
        assert!(run.session.is_connected());
    });
}

/// Runs `authenticate` up to client-final; returns the run and the
/// authenticator.
fn after_client_final(bw: bool) -> (Run, ScramSha256) {
    let mut run = Run::open("SCRAM-SHA-256", None, bw);
    let mut auth = rfc();
    run.session.authenticate(run.now, &mut auth);
    let _ = run.client(Some(&mut auth));
    let (s1, c2, _) = server_side(C1, "pencil", b"");
    run.server(&format!("334 {s1}\r\n"), Some(&mut auth));
    assert_eq!(run.client(Some(&mut auth)), format!("{c2}\r\n"));
    (run, auth)
}

#[test]
fn authenticate_wrong_server_signature_fails_and_closes() {
    both(|bw| {
        let (mut run, mut auth) = after_client_final(bw);
        let forged = b64("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        run.server(&format!("334 {forged}\r\n"), Some(&mut auth));
        assert_eq!(run.client(Some(&mut auth)), "*\r\n");
        run.server("501 5.7.0 cancelled\r\n", Some(&mut auth));
        match run.done(Some(&mut auth)).unwrap_err() {
            Error::MutualAuthFailed { reason, reply, .. } => {
                assert_eq!(reason, MechanismError::ServerSignature);
                assert_eq!(reply.code().get(), 501);
            }
            other => panic!("{other:?}"),
        }
        assert!(!run.session.is_connected(), "an impostor gets nothing more");
        assert_eq!(run.client(None), "", "no QUIT");
    });
}

#[test]
fn authenticate_235_without_server_final_is_not_success() {
    both(|bw| {
        let (mut run, mut auth) = after_client_final(bw);
        run.server("235 2.7.0 ok\r\n", Some(&mut auth));
        match run.done(Some(&mut auth)).unwrap_err() {
            Error::MutualAuthFailed { reason, reply, .. } => {
                assert_eq!(reason, MechanismError::Incomplete);
                assert_eq!(reply.code().get(), 235);
            }
            other => panic!("{other:?}"),
        }
        assert!(!run.session.is_connected());
    });
}

/// A server that answers the client-first with a server-first the client
/// cannot use and, in the same read, a final reply (found by the
/// `session_ops` fuzz target): the session fails, and the cancel `*` the
/// client had queued is never written after the failure.
#[test]
fn login_final_reply_behind_a_bad_server_first_writes_nothing_more() {
    both(|bw| {
        let mut run = Run::open("SCRAM-SHA-256", None, bw);
        run.session.login(run.now, "user", "pencil");
        assert!(run.client(None).starts_with("AUTH SCRAM-SHA-256 "));
        // Not base64 at all: the client cancels with `*`, but the final
        // reply is already there.
        run.server("334 cj0yT3BYTkLININGed\r\n250 2.0.0 fine\r\n", None);
        assert_eq!(
            run.client(None),
            "",
            "the cancel is not written after the failure"
        );
        // The engine counts a queued answer as sent, so the 250 ends the
        // exchange, without the server's proof.
        match run.done(None).unwrap_err() {
            Error::MutualAuthFailed { reason, reply, .. } => {
                assert_eq!(reason, MechanismError::Incomplete);
                assert_eq!(reply.code().get(), 250);
            }
            other => panic!("{other:?}"),
        }
        assert!(!run.session.is_connected());
        assert_eq!(run.client(None), "", "nothing after the failure");
    });
}

#[test]
fn authenticate_server_error_and_535_are_credential_failures() {
    both(|bw| {
        let (mut run, mut auth) = after_client_final(bw);
        run.server(
            &format!("334 {}\r\n", b64("e=invalid-proof")),
            Some(&mut auth),
        );
        assert_eq!(run.client(Some(&mut auth)), "*\r\n");
        run.server("535 5.7.8 no\r\n", Some(&mut auth));
        let e = run.done(Some(&mut auth)).unwrap_err();
        assert!(matches!(e, Error::AuthenticationError { .. }), "{e:?}");
        assert_eq!(e.smtp_code(), Some(535));
        assert!(run.session.is_connected());

        let (mut run, mut auth) = after_client_final(bw);
        run.server("535 5.7.8 Authentication failed\r\n", Some(&mut auth));
        let e = run.done(Some(&mut auth)).unwrap_err();
        assert!(matches!(e, Error::AuthenticationError { .. }), "{e:?}");
        assert!(run.session.is_connected());
    });
}

#[test]
fn authenticate_plus_needs_binding_data() {
    let mut run = Run::open("SCRAM-SHA-256-PLUS", None, false);
    let mut auth = rfc().with_plus(true);
    run.session.authenticate(run.now, &mut auth);
    let e = run.done(Some(&mut auth)).unwrap_err();
    assert!(matches!(e, Error::NotSupported(_)), "{e:?}");
    assert_eq!(run.client(None), "", "nothing sent");
    assert!(run.session.is_connected());
}

/// `login` with `offered`; the client must pick `picked` and succeed.
fn login_succeeds(offered: &str, binding: Option<&[u8]>, picked: &str, flag: &str, bw: bool) {
    let mut run = Run::open(offered, binding, bw);
    run.session.login(run.now, "user", "pencil");
    let line = run.client(None);
    assert!(line.starts_with(&format!("AUTH {picked} ")), "{line}");
    let first = STANDARD
        .decode(line.trim_end().rsplit(' ').next().unwrap())
        .unwrap();
    assert!(first.starts_with(flag.as_bytes()), "{first:?}");
    let (s1, c2, s2) = server_side(&line, "pencil", binding.unwrap_or_default());
    run.server(&format!("334 {s1}\r\n"), None);
    assert_eq!(run.client(None), format!("{c2}\r\n"));
    run.server(&format!("334 {s2}\r\n"), None);
    assert_eq!(run.client(None), "\r\n");
    run.server("235 2.7.0 ok\r\n", None);
    assert_eq!(run.done(None).unwrap().code().get(), 235);
}

#[test]
fn login_picks_scram_sha_256_first() {
    both(|bw| {
        // Without binding data: SCRAM-SHA-256 over PLAIN, LOGIN and
        // CRAM-MD5, with "n" (the client has no binding to offer).
        login_succeeds(
            "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256",
            None,
            "SCRAM-SHA-256",
            "n,,",
            bw,
        );
        // -PLUS offered but no binding data: not chosen.
        login_succeeds(
            "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN",
            None,
            "SCRAM-SHA-256",
            "n,,",
            bw,
        );
        // Binding data but no -PLUS offered: "y" (downgrade detection).
        login_succeeds("PLAIN SCRAM-SHA-256", Some(CB), "SCRAM-SHA-256", "y,,", bw);
    });
}

#[test]
fn login_picks_scram_plus_with_binding_data() {
    both(|bw| {
        login_succeeds(
            "PLAIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS",
            Some(CB),
            "SCRAM-SHA-256-PLUS",
            "p=tls-server-end-point,,",
            bw,
        );
    });
}

#[test]
fn login_does_not_fall_back_after_a_bad_server_signature() {
    both(|bw| {
        let mut run = Run::open("PLAIN SCRAM-SHA-256", None, bw);
        run.session.login(run.now, "user", "pencil");
        let line = run.client(None);
        let (s1, _, _) = server_side(&line, "pencil", b"");
        run.server(&format!("334 {s1}\r\n"), None);
        let _ = run.client(None);
        run.server(&format!("334 {}\r\n", b64("v=AAAA")), None);
        assert_eq!(run.client(None), "*\r\n");
        run.server("501 5.7.0 cancelled\r\n", None);
        let e = run.done(None).unwrap_err();
        assert!(matches!(e, Error::MutualAuthFailed { .. }), "{e:?}");
        assert_eq!(
            run.client(None),
            "",
            "no PLAIN to a server that failed SCRAM"
        );
        assert!(!run.session.is_connected());
    });
}

#[test]
fn login_wrong_password_stops_at_535() {
    both(|bw| {
        let mut run = Run::open("PLAIN SCRAM-SHA-256", None, bw);
        run.session.login(run.now, "user", "wrong");
        let line = run.client(None);
        let (s1, _, _) = server_side(&line, "pencil", b"");
        run.server(&format!("334 {s1}\r\n"), None);
        let _ = run.client(None);
        run.server("535 5.7.8 Authentication failed\r\n", None);
        let e = run.done(None).unwrap_err();
        assert!(
            matches!(&e, Error::AuthenticationError { mechanism, .. } if mechanism == "SCRAM-SHA-256"),
            "{e:?}"
        );
        assert!(run.session.is_connected());
    });
}
