//! The AUTH secrets sweep shared by both adapters' `tests/secrets.rs`
//! (issue 7 item 4; rule 11), against the
//! [`hostile`](crate::hostile) server.
//!
//! Each session is one AUTH exchange against the hostile server
//! ([`scenario`]) with the wire trace on at level 2. The test then formats
//! everything a caller might log (the client, every result and error, the
//! authenticator) with `{:?}`, `{:#?}` and `{}` where `Display` exists, and
//! checks the trace the adapter wrote to stderr, for every [`needles`] form.
use std::fmt::{Debug, Display};

use smtp_proto::auth::{Authenticator, CramMd5, Login, Plain, XOAuth2};

pub const USER: &str = "alice@example.org";
pub const PASSWORD: &str = "hunter2-correct-horse";
pub const TOKEN: &str = "ya29.tok-SECRET-xyz";
/// base64("\0alice@example.org\0hunter2-correct-horse"), the AUTH PLAIN blob.
pub const PLAIN_B64: &str = "AGFsaWNlQGV4YW1wbGUub3JnAGh1bnRlcjItY29ycmVjdC1ob3JzZQ==";
/// base64("hunter2-correct-horse"), the LOGIN password line.
pub const PASSWORD_B64: &str = "aHVudGVyMi1jb3JyZWN0LWhvcnNl";
/// base64("alice@example.org"), the LOGIN user line (not a secret).
pub const USER_B64: &str = "YWxpY2VAZXhhbXBsZS5vcmc=";
/// base64 of the XOAUTH2 initial response.
pub const XOAUTH2_B64: &str =
    "dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LnRvay1TRUNSRVQteHl6AQE=";
/// base64 of the RFC 2195 example challenge the server sends.
pub const CRAM_CHALLENGE_B64: &str = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+";
/// hex(HMAC-MD5(PASSWORD, challenge)): not the password, but a replayable
/// answer to this challenge, so it is swept too.
pub const CRAM_DIGEST: &str = "4627e486dc00a1a3e503370bc15ac774";
/// base64("alice@example.org 4627e4..."), the CRAM-MD5 answer line.
pub const CRAM_B64: &str = "YWxpY2VAZXhhbXBsZS5vcmcgNDYyN2U0ODZkYzAwYTFhM2U1MDMzNzBiYzE1YWM3NzQ=";

/// How the exchange is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mech {
    /// `authenticate(&mut Plain)`.
    Plain,
    /// `auth("PLAIN", closure)`: the caller's own bytes, smtplib style.
    PlainFn,
    Login,
    CramMd5,
    XOAuth2,
}

pub const MECHS: [Mech; 5] = [
    Mech::Plain,
    Mech::PlainFn,
    Mech::Login,
    Mech::CramMd5,
    Mech::XOAuth2,
];

/// How the server ends the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// 235, then QUIT.
    Accepted,
    /// 535, then QUIT (the session stays usable).
    Refused,
    /// The connection closes right after the secret arrived: fatal.
    Eof,
}

pub const ENDINGS: [Ending; 3] = [Ending::Accepted, Ending::Refused, Ending::Eof];

/// An authenticator that can also be swept with `{:?}`.
pub trait SweptAuth: Authenticator + Debug + Send {
    /// Itself, as the adapters' `authenticate` takes it.
    fn as_auth(&mut self) -> &mut (dyn Authenticator + Send);
}

impl<T: Authenticator + Debug + Send> SweptAuth for T {
    fn as_auth(&mut self) -> &mut (dyn Authenticator + Send) {
        self
    }
}

/// The authenticator for `mech` (`None` for [`Mech::PlainFn`]).
pub fn authenticator(mech: Mech) -> Option<Box<dyn SweptAuth>> {
    match mech {
        Mech::Plain => Some(Box::new(Plain::new(USER, PASSWORD))),
        Mech::PlainFn => None,
        Mech::Login => Some(Box::new(Login::new(USER, PASSWORD))),
        Mech::CramMd5 => Some(Box::new(CramMd5::new(USER, PASSWORD))),
        Mech::XOAuth2 => Some(Box::new(XOAuth2::new(USER, TOKEN))),
    }
}

/// The closure for [`Mech::PlainFn`]: PLAIN's initial response, nothing
/// for any challenge.
pub fn plain_fn(challenge: Option<&[u8]>) -> Option<Vec<u8>> {
    match challenge {
        None => Some(format!("\0{USER}\0{PASSWORD}").into_bytes()),
        Some(_) => None,
    }
}

/// The client line that carries the secret: it must be among the bytes the
/// server recorded, or the sweep proves nothing.
pub fn wire_secret(mech: Mech) -> String {
    match mech {
        Mech::Plain | Mech::PlainFn => format!("AUTH PLAIN {PLAIN_B64}\r\n"),
        Mech::Login => format!("{PASSWORD_B64}\r\n"),
        Mech::CramMd5 => format!("{CRAM_B64}\r\n"),
        Mech::XOAuth2 => format!("AUTH XOAUTH2 {XOAUTH2_B64}\r\n"),
    }
}

/// The trace line that shows the AUTH command went out (redacted).
pub fn trace_auth_line(mech: Mech) -> &'static str {
    match mech {
        Mech::Plain | Mech::PlainFn => "C: AUTH PLAIN",
        Mech::Login => "C: AUTH LOGIN",
        Mech::CramMd5 => "C: AUTH CRAM-MD5",
        Mech::XOAuth2 => "C: AUTH XOAUTH2",
    }
}

/// The hostile-server scenario (see `hostile.rs`) for one session.
pub fn scenario(mech: Mech, ending: Ending) -> String {
    let mut s = String::from(
        "S: 220 hostile.test ESMTP\n\
         C: EHLO client.test\n\
         S+ 250-hostile.test\n\
         S: 250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2\n",
    );
    match mech {
        Mech::Plain | Mech::PlainFn => s.push_str(&format!("C: AUTH PLAIN {PLAIN_B64}\n")),
        Mech::Login => s.push_str(&format!(
            "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: {USER_B64}\nS: 334 UGFzc3dvcmQ6\nC: {PASSWORD_B64}\n"
        )),
        Mech::CramMd5 => s.push_str(&format!(
            "C: AUTH CRAM-MD5\nS: 334 {CRAM_CHALLENGE_B64}\nC: {CRAM_B64}\n"
        )),
        Mech::XOAuth2 => s.push_str(&format!("C: AUTH XOAUTH2 {XOAUTH2_B64}\n")),
    }
    match ending {
        Ending::Accepted => s.push_str("S: 235 2.7.0 Authentication successful\nBYE\n"),
        Ending::Refused => {
            s.push_str("S: 535 5.7.8 Authentication credentials invalid\nBYE\n");
        }
        Ending::Eof => s.push_str("CLOSE\n"),
    }
    s
}

/// Every form in which a secret could show up in text.
pub fn needles() -> Vec<String> {
    let mut needles = Vec::new();
    for secret in [
        PASSWORD,
        TOKEN,
        PLAIN_B64,
        PASSWORD_B64,
        XOAUTH2_B64,
        CRAM_DIGEST,
        CRAM_B64,
    ] {
        needles.push(secret.to_owned());
        // A `Vec<u8>` prints as `[104, 117, ...]`, `{:#?}` one per line;
        // compared with all whitespace removed.
        let list: Vec<String> = secret.bytes().map(|b| b.to_string()).collect();
        needles.push(list.join(","));
    }
    needles
}

/// Panics if `text` holds any needle.
pub fn assert_clean(what: &str, text: &str) {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for needle in needles() {
        assert!(
            !text.contains(&needle) && !squeezed.contains(&needle),
            "{what} leaks {needle:?}: {text}"
        );
    }
}

/// `{:?}` and `{:#?}`.
pub fn sweep<T: Debug + ?Sized>(what: &str, value: &T) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

/// `{:?}`, `{:#?}` and `{}`.
pub fn sweep_display<T: Debug + Display + ?Sized>(what: &str, value: &T) {
    sweep(what, value);
    assert_clean(what, &format!("{value}"));
}

/// A result and, if it is an error, its `Display` and its `source` chain.
pub fn sweep_result<T: Debug, E: std::error::Error>(what: &str, r: &Result<T, E>) {
    sweep(what, r);
    if let Err(e) = r {
        sweep_display(what, e);
        let mut source = e.source();
        while let Some(s) = source {
            assert_clean(&format!("{what} (source)"), &s.to_string());
            assert_clean(&format!("{what} (source)"), &format!("{s:?}"));
            source = s.source();
        }
    }
}

/// Marks the start of one session in the trace.
pub fn marker(mech: Mech, ending: Ending) -> String {
    format!("=== secrets session {mech:?}/{ending:?}")
}

/// Checks the captured stderr of a child that ran every session: the trace
/// is there (each AUTH line, the server's verdicts, the redactions) and no
/// needle is.
pub fn check_trace(stderr: &str) {
    for mech in MECHS {
        for ending in ENDINGS {
            let m = marker(mech, ending);
            let start = stderr
                .find(&m)
                .unwrap_or_else(|| panic!("no session {m} in the child's stderr:\n{stderr}"));
            let rest = &stderr[start + m.len()..];
            let section = rest
                .find("=== secrets session")
                .map_or(rest, |end| &rest[..end]);
            assert!(
                section.contains(trace_auth_line(mech)),
                "{m}: trace lacks {:?}:\n{section}",
                trace_auth_line(mech)
            );
            let verdict = match ending {
                Ending::Accepted => "S: 235",
                Ending::Refused => "S: 535",
                Ending::Eof => "C: AUTH",
            };
            assert!(
                section.contains(verdict),
                "{m}: trace lacks {verdict:?}:\n{section}"
            );
            if matches!(mech, Mech::Login | Mech::CramMd5) {
                assert!(
                    section.contains("<redacted>"),
                    "{m}: challenge answer not shown as redacted:\n{section}"
                );
            }
            assert_clean(&format!("trace of {m}"), section);
        }
    }
    assert_clean("whole child stderr", stderr);
}

/// Runs this test binary again, only `test`, with `SECRETS_CHILD` set, and
/// returns its stderr (where the adapter writes the trace); panics if the
/// child failed (a Debug/Display leak or a wrong outcome).
pub fn run_child(test: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env("SECRETS_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
    stderr
}

/// Whether this process is the child of [`run_child`].
pub fn is_child() -> bool {
    std::env::var_os("SECRETS_CHILD").is_some()
}

/// Checks the outcome of one session's AUTH call.
pub fn check_outcome<T: Debug, E: Debug>(what: &str, ending: Ending, r: &Result<T, E>) {
    let text = format!("{r:?}");
    let ok = match ending {
        Ending::Accepted => r.is_ok(),
        Ending::Refused => text.contains("AuthenticationError") && text.contains("535"),
        Ending::Eof => r.is_err() && !text.contains("AuthenticationError"),
    };
    assert!(ok, "{what}: unexpected outcome {text}");
}
