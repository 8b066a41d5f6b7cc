//! SASL response builders for AUTH (RFC 4954).
//!
//! The [`Client`](crate::Client) reports every 334 challenge as an
//! [`Event::AuthChallenge`](crate::Event::AuthChallenge) and the caller
//! answers it; these builders compute the answers for common mechanisms so
//! that adapters need no SASL knowledge. Each one answers only the
//! challenges its mechanism defines and returns `None` (cancel with `*`) for
//! anything more: credentials are never re-sent because a server asked again.
//!
//! [`ScramSha256`] (SCRAM-SHA-256 and -PLUS) also checks the server's
//! side: [`Authenticator::finish`] says whether the server proved it knows
//! the password, and [`Authenticator::prepare`] hands it the TLS channel
//! binding data the session learned from the driver.

use hmac::{Hmac, Mac};
use md5::Md5;

use crate::command::Mechanism;
use crate::secret::Secret;

pub mod scram;

pub use scram::ScramSha256;

/// What the session knows when an exchange starts, for
/// [`Authenticator::prepare`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AuthContext<'a> {
    channel_binding: Option<&'a [u8]>,
    offered: &'a [String],
}

impl<'a> AuthContext<'a> {
    /// A context with the connection's `tls-server-end-point` channel
    /// binding data (RFC 5929), if known, and the mechanisms the server
    /// advertised (upper case).
    pub fn new(channel_binding: Option<&'a [u8]>, offered: &'a [String]) -> Self {
        AuthContext {
            channel_binding,
            offered,
        }
    }

    /// The `tls-server-end-point` data of the TLS connection: the hash of
    /// the server's certificate (RFC 5929 §4.1). `None` without TLS or when
    /// the TLS library cannot tell.
    pub fn channel_binding(&self) -> Option<&'a [u8]> {
        self.channel_binding
    }

    /// The mechanisms the server advertised.
    pub fn offered(&self) -> &'a [String] {
        self.offered
    }

    /// Whether the server advertised `mechanism`.
    pub fn offers(&self, mechanism: &Mechanism) -> bool {
        self.offered
            .iter()
            .any(|m| m.eq_ignore_ascii_case(mechanism.as_str()))
    }
}

/// Why a mechanism refused the server's side of an exchange, or could not
/// start one.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MechanismError {
    /// The server's signature did not match: it did not prove that it
    /// knows the password (it may be an impostor).
    #[error("the server's signature does not match: it did not prove it knows the password")]
    ServerSignature,
    /// The server said the exchange succeeded before it proved that it
    /// knows the password (no SCRAM server-final message).
    #[error("the server ended the exchange without proving it knows the password")]
    Incomplete,
    /// The server reported an error in the exchange (SCRAM's `e=`).
    #[error("the server reported {0:?}")]
    ServerError(String),
    /// The server's nonce does not extend the client's.
    #[error("the server's nonce does not extend the client's")]
    NonceMismatch,
    /// The server's iteration count is out of the accepted bounds
    /// ([`scram::MIN_ITERATIONS`] to [`scram::MAX_ITERATIONS`]).
    #[error(
        "iteration count {0} outside the accepted {min}..={max}",
        min = scram::MIN_ITERATIONS,
        max = scram::MAX_ITERATIONS
    )]
    IterationCount(u32),
    /// A server message could not be parsed; what was wrong.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// A challenge came where the mechanism expects none.
    #[error("unexpected challenge")]
    UnexpectedChallenge,
    /// Channel binding was asked for (a `-PLUS` mechanism) but the
    /// connection has no binding data (no TLS, or a TLS library that
    /// cannot tell).
    #[error("channel binding data is not available on this connection")]
    ChannelBindingUnavailable,
    /// The user name or password is not valid under SASLprep (RFC 4013);
    /// which one.
    #[error("the {0} is not valid under SASLprep (RFC 4013)")]
    Saslprep(&'static str),
    /// The operating system's random source failed (client nonce).
    #[error("no random source for the client nonce")]
    Random,
}

impl MechanismError {
    /// Whether the mechanism cancelled the exchange because of what the
    /// server sent (a wrong signature, a foreign nonce, a message it must
    /// refuse): the server cannot be trusted. A refusal after such a
    /// cancel is reported as this, not as a credentials failure. A server
    /// error (`e=`), a missing binding or a local failure are not such.
    pub fn distrusts_server(&self) -> bool {
        matches!(
            self,
            MechanismError::ServerSignature
                | MechanismError::NonceMismatch
                | MechanismError::IterationCount(_)
                | MechanismError::Malformed(_)
                | MechanismError::UnexpectedChallenge
        )
    }
}

/// Whether `mechanism` puts a password or bearer token on the wire in a form
/// an eavesdropper can reuse. Such mechanisms are refused without TLS unless
/// [`Config::allow_plaintext_auth`](crate::Config::allow_plaintext_auth) is on.
pub fn reveals_secret(mechanism: &Mechanism) -> bool {
    matches!(
        mechanism.as_str(),
        "PLAIN" | "LOGIN" | "XOAUTH2" | "OAUTHBEARER"
    )
}

/// Computes the answers of one SASL mechanism.
pub trait Authenticator {
    /// The mechanism name sent with AUTH.
    fn mechanism(&self) -> Mechanism;
    /// The initial response sent on the AUTH line, if the mechanism has one.
    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>>;
    /// The answer to a decoded 334 challenge, or `None` to cancel.
    fn respond(&mut self, challenge: &[u8]) -> Option<Secret<Vec<u8>>>;

    /// Called by the session before [`initial_response`](Self::initial_response)
    /// with what it knows of the connection (TLS channel binding data, the
    /// advertised mechanisms). The default ignores it.
    fn prepare(&mut self, context: &AuthContext<'_>) {
        let _ = context;
    }

    /// Called once the server ended the exchange (235, or a refusal):
    /// `Err` when the mechanism does not accept the outcome, above all
    /// when a mechanism with mutual authentication (SCRAM) did not see the
    /// server prove its identity. A 235 is then not a success: the session
    /// fails the AUTH and closes the connection. The default (mechanisms
    /// that authenticate the client only) accepts.
    ///
    /// # Errors
    /// Why the outcome is not accepted.
    fn finish(&mut self) -> Result<(), MechanismError> {
        Ok(())
    }
}

/// PLAIN (RFC 4616): `authzid NUL authcid NUL password` as initial response.
#[derive(Clone, Debug)]
pub struct Plain {
    authzid: String,
    user: String,
    password: Secret<String>,
    sent: bool,
}

impl Plain {
    /// PLAIN for `user` with an empty authorization identity.
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            authzid: String::new(),
            user: user.to_owned(),
            password: Secret::new(password.to_owned()),
            sent: false,
        }
    }

    /// Sets the authorization identity (act as `authzid`).
    #[must_use]
    pub fn with_authzid(mut self, authzid: &str) -> Self {
        self.authzid = authzid.to_owned();
        self
    }

    fn message(&self) -> Secret<Vec<u8>> {
        let mut m = Vec::with_capacity(self.authzid.len() + self.user.len() + 2 + 64);
        m.extend_from_slice(self.authzid.as_bytes());
        m.push(0);
        m.extend_from_slice(self.user.as_bytes());
        m.push(0);
        m.extend_from_slice(self.password.expose().as_bytes());
        Secret::new(m)
    }
}

impl Authenticator for Plain {
    fn mechanism(&self) -> Mechanism {
        Mechanism::PLAIN
    }

    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        self.sent = true;
        Some(self.message())
    }

    fn respond(&mut self, challenge: &[u8]) -> Option<Secret<Vec<u8>>> {
        // Only an empty challenge before the credentials were sent is part
        // of PLAIN; a challenge after them is never answered again.
        if self.sent || !challenge.is_empty() {
            return None;
        }
        self.sent = true;
        Some(self.message())
    }
}

/// LOGIN (draft-murchison-sasl-login): user name, then password, each in
/// answer to one challenge.
#[derive(Clone, Debug)]
pub struct Login {
    user: String,
    password: Secret<String>,
    step: u8,
}

impl Login {
    /// LOGIN for `user`.
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            user: user.to_owned(),
            password: Secret::new(password.to_owned()),
            step: 0,
        }
    }
}

impl Authenticator for Login {
    fn mechanism(&self) -> Mechanism {
        Mechanism::LOGIN
    }

    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        None
    }

    fn respond(&mut self, _challenge: &[u8]) -> Option<Secret<Vec<u8>>> {
        // The prompts ("Username:", "Password:") vary between servers; the
        // order does not.
        self.step = self.step.saturating_add(1);
        match self.step {
            1 => Some(Secret::new(self.user.as_bytes().to_vec())),
            2 => Some(Secret::new(self.password.expose().as_bytes().to_vec())),
            _ => None,
        }
    }
}

/// CRAM-MD5 (RFC 2195): `user SP hex(HMAC-MD5(password, challenge))`.
///
/// Keeps the password off the wire but is weak by today's standards (MD5,
/// an offline-crackable answer, no server authentication): `login` tries it
/// last, only when nothing better is offered.
#[derive(Clone, Debug)]
pub struct CramMd5 {
    user: String,
    password: Secret<String>,
    answered: bool,
}

impl CramMd5 {
    /// CRAM-MD5 for `user`.
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            user: user.to_owned(),
            password: Secret::new(password.to_owned()),
            answered: false,
        }
    }
}

impl Authenticator for CramMd5 {
    fn mechanism(&self) -> Mechanism {
        Mechanism::CRAM_MD5
    }

    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        None
    }

    fn respond(&mut self, challenge: &[u8]) -> Option<Secret<Vec<u8>>> {
        if self.answered {
            return None;
        }
        self.answered = true;
        Some(cram_md5_response(
            &self.user,
            self.password.expose(),
            challenge,
        ))
    }
}

/// The CRAM-MD5 answer to `challenge` (RFC 2195 §2).
pub fn cram_md5_response(user: &str, password: &str, challenge: &[u8]) -> Secret<Vec<u8>> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here;
    // an empty answer (rejected by the server) is the safe fallback anyway.
    let Ok(mut mac) = Hmac::<Md5>::new_from_slice(password.as_bytes()) else {
        return Secret::new(Vec::new());
    };
    mac.update(challenge);
    let digest = mac.finalize().into_bytes();
    let mut out = Vec::with_capacity(user.len() + 1 + 32);
    out.extend_from_slice(user.as_bytes());
    out.push(b' ');
    for b in digest {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 0x0f));
    }
    Secret::new(out)
}

/// Lower-case hex digit of a nibble (RFC 2195 uses lower case).
fn hex_digit(nibble: u8) -> u8 {
    match nibble {
        0..=9 => b'0' + nibble,
        _ => b'a' + (nibble & 0x0f) - 10,
    }
}

/// XOAUTH2 (Google/Microsoft): `user=U ^A auth=Bearer T ^A ^A` as initial
/// response. On failure the server sends a JSON challenge, answered with an
/// empty response to receive the final 5xx.
#[derive(Clone, Debug)]
pub struct XOAuth2 {
    user: String,
    token: Secret<String>,
    answered: bool,
}

impl XOAuth2 {
    /// XOAUTH2 for `user` with an OAuth 2.0 access token.
    pub fn new(user: &str, token: &str) -> Self {
        Self {
            user: user.to_owned(),
            token: Secret::new(token.to_owned()),
            answered: false,
        }
    }
}

impl Authenticator for XOAuth2 {
    fn mechanism(&self) -> Mechanism {
        Mechanism::XOAUTH2
    }

    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        let mut m = Vec::new();
        m.extend_from_slice(b"user=");
        m.extend_from_slice(self.user.as_bytes());
        m.extend_from_slice(b"\x01auth=Bearer ");
        m.extend_from_slice(self.token.expose().as_bytes());
        m.extend_from_slice(b"\x01\x01");
        Some(Secret::new(m))
    }

    fn respond(&mut self, _challenge: &[u8]) -> Option<Secret<Vec<u8>>> {
        if self.answered {
            return None;
        }
        self.answered = true;
        Some(Secret::new(Vec::new()))
    }
}

/// OAUTHBEARER (RFC 7628): a GS2 header plus `host`, `port` and
/// `auth=Bearer T`, separated by ^A, as initial response. An error
/// challenge is answered with a single ^A (RFC 7628 §3.2.3).
#[derive(Clone, Debug)]
pub struct OAuthBearer {
    user: String,
    host: String,
    port: u16,
    token: Secret<String>,
    answered: bool,
}

impl OAuthBearer {
    /// OAUTHBEARER for `user` at `host:port` with a bearer token.
    pub fn new(user: &str, host: &str, port: u16, token: &str) -> Self {
        Self {
            user: user.to_owned(),
            host: host.to_owned(),
            port,
            token: Secret::new(token.to_owned()),
            answered: false,
        }
    }
}

/// GS2 `saslname` escaping (RFC 5801 §4): `,` and `=` in the authzid.
fn gs2_escape(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

impl Authenticator for OAuthBearer {
    fn mechanism(&self) -> Mechanism {
        Mechanism::OAUTHBEARER
    }

    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        let m = format!(
            "n,a={},\x01host={}\x01port={}\x01auth=Bearer {}\x01\x01",
            gs2_escape(&self.user),
            self.host,
            self.port,
            self.token.expose()
        );
        Some(Secret::new(m.into_bytes()))
    }

    fn respond(&mut self, _challenge: &[u8]) -> Option<Secret<Vec<u8>>> {
        if self.answered {
            return None;
        }
        self.answered = true;
        Some(Secret::new(vec![0x01]))
    }
}

/// An [`Authenticator`] from a closure that answers each decoded challenge
/// (`None` cancels); the initial response, if any, is sent by the caller
/// with the AUTH command. smtplib's `auth(mechanism, authobject)` in Rust.
pub struct FnAuthenticator<F> {
    mechanism: Mechanism,
    respond: F,
}

impl<F: FnMut(&[u8]) -> Option<Secret<Vec<u8>>>> FnAuthenticator<F> {
    /// `respond` answers the challenges of `mechanism`.
    pub fn new(mechanism: Mechanism, respond: F) -> Self {
        FnAuthenticator { mechanism, respond }
    }
}

impl<F> std::fmt::Debug for FnAuthenticator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FnAuthenticator({})", self.mechanism)
    }
}

impl<F: FnMut(&[u8]) -> Option<Secret<Vec<u8>>>> Authenticator for FnAuthenticator<F> {
    fn mechanism(&self) -> Mechanism {
        self.mechanism.clone()
    }

    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        None
    }

    fn respond(&mut self, challenge: &[u8]) -> Option<Secret<Vec<u8>>> {
        (self.respond)(challenge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cram_md5_matches_rfc_2195_example() {
        // RFC 2195 §2: user "tim", password "tanstaaftanstaaf".
        let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
        let r = cram_md5_response("tim", "tanstaaftanstaaf", challenge);
        assert_eq!(r.expose(), b"tim b913a602c7eda7a495b4e6e7334d3890");
    }

    #[test]
    fn plain_sends_credentials_once() {
        let mut p = Plain::new("u", "p").with_authzid("z");
        assert_eq!(p.initial_response().unwrap().expose(), b"z\0u\0p");
        assert!(p.respond(b"").is_none(), "no second copy of the password");
    }

    #[test]
    fn login_answers_two_prompts_then_cancels() {
        let mut l = Login::new("alice", "s3cret");
        assert!(l.initial_response().is_none());
        assert_eq!(l.respond(b"Username:").unwrap().expose(), b"alice");
        assert_eq!(l.respond(b"Password:").unwrap().expose(), b"s3cret");
        assert!(l.respond(b"Password:").is_none());
    }

    #[test]
    fn xoauth2_and_oauthbearer_formats() {
        let mut x = XOAuth2::new("a@b", "tok");
        assert_eq!(
            x.initial_response().unwrap().expose(),
            b"user=a@b\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(x.respond(b"{}").unwrap().expose(), b"");
        assert!(x.respond(b"{}").is_none());
        let mut o = OAuthBearer::new("a,b=c", "mx", 587, "tok");
        assert_eq!(
            o.initial_response().unwrap().expose(),
            b"n,a=a=2Cb=3Dc,\x01host=mx\x01port=587\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(o.respond(b"{}").unwrap().expose(), b"\x01");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!(
            "{:?} {:?} {:?} {:?} {:?}",
            Plain::new("u", "pw-123"),
            Login::new("u", "pw-123"),
            CramMd5::new("u", "pw-123"),
            XOAuth2::new("u", "pw-123"),
            OAuthBearer::new("u", "h", 1, "pw-123")
        );
        assert!(!shown.contains("pw-123"), "{shown}");
    }
}
