//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, client side (RFC 5802, RFC 7677),
//! with `tls-server-end-point` channel binding (RFC 5929).
//!
//! The exchange in SMTP (RFC 4954 §4):
//!
//! ```text
//! C: AUTH SCRAM-SHA-256 base64(client-first)
//! S: 334 base64(server-first)        r=<nonce>,s=<salt>,i=<count>
//! C: base64(client-final)            c=<binding>,r=<nonce>,p=<proof>
//! S: 334 base64(server-final)        v=<server signature>  (or e=<error>)
//! C: (empty line)
//! S: 235 Authentication successful
//! ```
//!
//! RFC 4954's 235 reply carries no SASL data, so a server sends SCRAM's
//! server-final as a 334 challenge that the client answers with an empty
//! line (the rule RFC 4422 §5 sets for profiles without "additional data
//! with success"); Dovecot behind Postfix does exactly that (tested in both
//! adapters). The client checks the signature before it answers; a wrong
//! one cancels the exchange with `*`. A 235 that arrives without a verified
//! signature (including one whose text might hold a server-final: reply
//! text is not parsed) is refused by [`Authenticator::finish`]: the
//! session then fails the AUTH with
//! [`Error::MutualAuthFailed`](crate::session::Error::MutualAuthFailed)
//! and closes the connection. SCRAM's promise is that *both* sides prove
//! they know the password; a server that cannot is not the server.
//!
//! # What is refused, and why
//!
//! - A nonce that does not start with the client's (RFC 5802 §5.1): a
//!   replay or a confused server.
//! - A mandatory extension (`m=`): none is defined, and RFC 5802 says to
//!   fail.
//! - An iteration count below [`MIN_ITERATIONS`] (4096, RFC 7677 §4's
//!   SHOULD): the proof the client sends lets whoever receives it run an
//!   offline dictionary attack whose cost is the iteration count, so a
//!   lower count hands an impostor a cheaper attack. Servers that follow
//!   RFC 7677 (Dovecot's default is 4096) are not affected; for one that
//!   uses fewer, authenticate with another mechanism explicitly.
//! - An iteration count above [`MAX_ITERATIONS`] (1,000,000, above the
//!   600,000 OWASP suggests for PBKDF2-SHA256): the client computes
//!   PBKDF2 on its own thread, so an unbounded count is a way for a server
//!   to burn the client's CPU.
//! - A user name or password SASLprep (RFC 4013) rejects (control
//!   characters, unassigned code points, wrong bidi): SASLprep runs on both
//!   (mapping non-ASCII spaces and normalising with NFKC), so a non-ASCII
//!   password works when the server prepares it the same way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{AuthContext, Authenticator, MechanismError, gs2_escape};
use crate::command::Mechanism;
use crate::secret::Secret;

/// The lowest iteration count accepted from a server (RFC 7677 §4).
pub const MIN_ITERATIONS: u32 = 4096;

/// The highest iteration count accepted from a server (a bound on the CPU
/// a server can make the client spend).
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// The channel binding type of the `-PLUS` variant (RFC 5929 §4).
pub const TLS_SERVER_END_POINT: &str = "tls-server-end-point";

/// Random bytes in a generated client nonce (24 base64 characters).
const NONCE_BYTES: usize = 18;

type HmacSha256 = Hmac<Sha256>;

/// Where the exchange is.
enum State {
    /// Nothing sent yet.
    Initial,
    /// client-first sent.
    First {
        gs2_header: Vec<u8>,
        client_first_bare: String,
    },
    /// client-final sent; the server's signature must match.
    Final(Expected),
    /// The server proved it knows the password.
    Verified,
    /// Cancelled or refused, and why.
    Failed(MechanismError),
}

/// What the server's signature is computed from.
struct Expected {
    server_key: Secret<Vec<u8>>,
    auth_message: Vec<u8>,
}

/// SCRAM-SHA-256 (RFC 7677) or SCRAM-SHA-256-PLUS, client side; see the
/// [module docs](self).
///
/// The `-PLUS` variant needs the TLS connection's `tls-server-end-point`
/// data (the hash of the server's certificate); the session hands it over
/// through [`Authenticator::prepare`] before the exchange, so callers need
/// not fetch it. Without it the session refuses to start `-PLUS`.
pub struct ScramSha256 {
    user: String,
    authzid: String,
    password: Secret<String>,
    nonce: String,
    plus: bool,
    binding: Option<Vec<u8>>,
    server_offers_plus: bool,
    state: State,
}

impl std::fmt::Debug for ScramSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramSha256")
            .field("mechanism", &self.mechanism().as_str())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ScramSha256 {
    /// SCRAM-SHA-256 for `user` with a client nonce from the operating
    /// system's random source.
    ///
    /// # Errors
    /// [`MechanismError::Saslprep`] when the user name or password is not
    /// valid under SASLprep; [`MechanismError::Random`] when the system has
    /// no random source.
    pub fn new(user: &str, password: &str) -> Result<Self, MechanismError> {
        let mut bytes = [0u8; NONCE_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| MechanismError::Random)?;
        Self::with_nonce(user, password, &STANDARD.encode(bytes))
    }

    /// SCRAM-SHA-256-PLUS for `user`: channel binding to the TLS
    /// connection (`tls-server-end-point`).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn plus(user: &str, password: &str) -> Result<Self, MechanismError> {
        Ok(Self::new(user, password)?.with_plus(true))
    }

    /// SCRAM-SHA-256 with a fixed client nonce (tests, test vectors).
    /// The nonce must be printable ASCII without `,`; reusing one across
    /// exchanges weakens the protocol, so use [`new`](Self::new) otherwise.
    ///
    /// # Errors
    /// As [`new`](Self::new); [`MechanismError::Malformed`] for a nonce that
    /// is empty or has a forbidden character.
    pub fn with_nonce(user: &str, password: &str, nonce: &str) -> Result<Self, MechanismError> {
        let printable = |b: u8| (0x21..=0x7e).contains(&b) && b != b',';
        if nonce.is_empty() || !nonce.bytes().all(printable) {
            return Err(MechanismError::Malformed("client nonce"));
        }
        Ok(ScramSha256 {
            user: saslprep(user, "user name")?,
            authzid: String::new(),
            password: Secret::new(saslprep(password, "password")?),
            nonce: nonce.to_owned(),
            plus: false,
            binding: None,
            server_offers_plus: false,
            state: State::Initial,
        })
    }

    /// Uses (`true`) or does not use the `-PLUS` variant.
    #[must_use]
    pub fn with_plus(mut self, plus: bool) -> Self {
        self.plus = plus;
        self
    }

    /// Sets the authorization identity (act as `authzid`).
    #[must_use]
    pub fn with_authzid(mut self, authzid: &str) -> Self {
        self.authzid = authzid.to_owned();
        self
    }

    /// Sets the channel binding data (`tls-server-end-point`) and whether
    /// the server offered the `-PLUS` variant, as
    /// [`prepare`](Authenticator::prepare) does from the session.
    #[must_use]
    pub fn with_channel_binding(mut self, data: Option<&[u8]>, server_offers_plus: bool) -> Self {
        self.binding = data.map(<[u8]>::to_vec);
        self.server_offers_plus = server_offers_plus;
        self
    }

    /// The GS2 header (RFC 5802 §7): `p=` for `-PLUS`, `y` when the client
    /// could bind but the server does not seem to offer it (so that a
    /// server that does offer it detects the downgrade), `n` otherwise.
    fn gs2_header(&self) -> Vec<u8> {
        let flag = match (&self.binding, self.plus) {
            (Some(_), true) => format!("p={TLS_SERVER_END_POINT}"),
            (Some(_), false) if !self.server_offers_plus => "y".to_owned(),
            _ => "n".to_owned(),
        };
        let authzid = if self.authzid.is_empty() {
            String::new()
        } else {
            format!("a={}", gs2_escape(&self.authzid))
        };
        format!("{flag},{authzid},").into_bytes()
    }

    fn client_first(&mut self) -> Option<Secret<Vec<u8>>> {
        if self.plus && self.binding.is_none() {
            self.state = State::Failed(MechanismError::ChannelBindingUnavailable);
            return None;
        }
        let gs2_header = self.gs2_header();
        let client_first_bare = format!("n={},r={}", gs2_escape(&self.user), self.nonce);
        let mut message = gs2_header.clone();
        message.extend_from_slice(client_first_bare.as_bytes());
        self.state = State::First {
            gs2_header,
            client_first_bare,
        };
        Some(Secret::new(message))
    }

    fn client_final(
        &self,
        gs2_header: &[u8],
        client_first_bare: &str,
        server_first: &[u8],
    ) -> Result<(Secret<Vec<u8>>, Expected), MechanismError> {
        let first = parse_server_first(server_first)?;
        if first.nonce.len() <= self.nonce.len() || !first.nonce.starts_with(&self.nonce) {
            return Err(MechanismError::NonceMismatch);
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&first.iterations) {
            return Err(MechanismError::IterationCount(first.iterations));
        }
        let mut cbind = gs2_header.to_vec();
        if self.plus
            && let Some(data) = &self.binding
        {
            cbind.extend_from_slice(data);
        }
        let without_proof = format!("c={},r={}", STANDARD.encode(&cbind), first.nonce);
        let auth_message = [
            client_first_bare.as_bytes(),
            b",",
            server_first,
            b",",
            without_proof.as_bytes(),
        ]
        .concat();

        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(
            self.password.expose().as_bytes(),
            &first.salt,
            first.iterations,
            &mut salted,
        );
        let salted = Secret::new(salted);
        let client_key = Secret::new(hmac(salted.expose(), b"Client Key")?);
        let stored_key = Secret::new(Sha256::digest(client_key.expose()).to_vec());
        let client_signature = hmac(stored_key.expose(), &auth_message)?;
        let proof: Vec<u8> = client_key
            .expose()
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = Secret::new(hmac(salted.expose(), b"Server Key")?);

        let message = format!("{without_proof},p={}", STANDARD.encode(proof));
        let expected = Expected {
            server_key,
            auth_message,
        };
        Ok((Secret::new(message.into_bytes()), expected))
    }

    /// Checks server-final: `v=` must be HMAC(ServerKey, AuthMessage).
    fn verify(server_final: &[u8], expected: &Expected) -> Result<(), MechanismError> {
        let text = std::str::from_utf8(server_final)
            .map_err(|_| MechanismError::Malformed("server-final is not UTF-8"))?;
        let first = text.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(MechanismError::ServerError(error.to_owned()));
        }
        let Some(v) = first.strip_prefix("v=") else {
            return Err(MechanismError::Malformed("server-final has no v= or e="));
        };
        let signature = STANDARD
            .decode(v)
            .map_err(|_| MechanismError::Malformed("server signature is not base64"))?;
        let mut mac = HmacSha256::new_from_slice(expected.server_key.expose())
            .map_err(|_| MechanismError::Malformed("HMAC key"))?;
        mac.update(&expected.auth_message);
        // The MAC's own check compares in constant time (and checks the
        // length).
        mac.verify_slice(&signature)
            .map_err(|_| MechanismError::ServerSignature)
    }
}

impl Authenticator for ScramSha256 {
    fn mechanism(&self) -> Mechanism {
        if self.plus {
            Mechanism::SCRAM_SHA_256_PLUS
        } else {
            Mechanism::SCRAM_SHA_256
        }
    }

    fn prepare(&mut self, context: &AuthContext<'_>) {
        self.binding = context.channel_binding().map(<[u8]>::to_vec);
        self.server_offers_plus = context.offers(&Mechanism::SCRAM_SHA_256_PLUS);
    }

    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        match self.state {
            State::Initial => self.client_first(),
            _ => None,
        }
    }

    fn respond(&mut self, challenge: &[u8]) -> Option<Secret<Vec<u8>>> {
        let state = std::mem::replace(&mut self.state, State::Initial);
        let (next, answer) = match state {
            // No initial response was sent: the server asks for it.
            State::Initial if challenge.is_empty() => return self.client_first(),
            State::Initial => (State::Failed(MechanismError::UnexpectedChallenge), None),
            State::First {
                gs2_header,
                client_first_bare,
            } => match self.client_final(&gs2_header, &client_first_bare, challenge) {
                Ok((message, expected)) => (State::Final(expected), Some(message)),
                Err(e) => (State::Failed(e), None),
            },
            State::Final(expected) => match Self::verify(challenge, &expected) {
                Ok(()) => (State::Verified, Some(Secret::new(Vec::new()))),
                Err(e) => (State::Failed(e), None),
            },
            State::Verified => (State::Failed(MechanismError::UnexpectedChallenge), None),
            State::Failed(e) => (State::Failed(e), None),
        };
        self.state = next;
        answer
    }

    fn finish(&mut self) -> Result<(), MechanismError> {
        match &self.state {
            State::Verified => Ok(()),
            State::Failed(e) => Err(e.clone()),
            _ => Err(MechanismError::Incomplete),
        }
    }
}

/// The fields of server-first (RFC 5802 §7).
struct ServerFirst {
    nonce: String,
    salt: Vec<u8>,
    iterations: u32,
}

fn parse_server_first(message: &[u8]) -> Result<ServerFirst, MechanismError> {
    let text = std::str::from_utf8(message)
        .map_err(|_| MechanismError::Malformed("server-first is not UTF-8"))?;
    let mut fields = text.split(',');
    let mut next = |name: &'static str| {
        let field = fields.next().unwrap_or_default();
        if field.starts_with("m=") {
            return Err(MechanismError::Malformed(
                "server-first has a mandatory extension (m=)",
            ));
        }
        field
            .strip_prefix(name)
            .ok_or(MechanismError::Malformed(match name {
                "r=" => "server-first has no nonce (r=)",
                "s=" => "server-first has no salt (s=)",
                _ => "server-first has no iteration count (i=)",
            }))
    };
    let nonce = next("r=")?;
    let salt = next("s=")?;
    let iterations = next("i=")?;
    let printable = |b: u8| (0x21..=0x7e).contains(&b) && b != b',';
    if !nonce.bytes().all(printable) {
        return Err(MechanismError::Malformed("server nonce"));
    }
    let salt = STANDARD
        .decode(salt)
        .map_err(|_| MechanismError::Malformed("salt is not base64"))?;
    if salt.is_empty() {
        return Err(MechanismError::Malformed("empty salt"));
    }
    let valid_count = !iterations.is_empty()
        && iterations.bytes().all(|b| b.is_ascii_digit())
        && !iterations.starts_with('0');
    if !valid_count {
        return Err(MechanismError::Malformed("iteration count"));
    }
    // Too many digits for a u32 is out of bounds, not malformed.
    let iterations = iterations.parse::<u32>().unwrap_or(u32::MAX);
    Ok(ServerFirst {
        nonce: nonce.to_owned(),
        salt,
        iterations,
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, MechanismError> {
    // HMAC takes keys of any length; the error cannot happen.
    let mut mac =
        HmacSha256::new_from_slice(key).map_err(|_| MechanismError::Malformed("HMAC key"))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// SASLprep (RFC 4013) of a user name or password.
fn saslprep(s: &str, what: &'static str) -> Result<String, MechanismError> {
    stringprep::saslprep(s)
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| MechanismError::Saslprep(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc7677() -> ScramSha256 {
        ScramSha256::with_nonce("user", "pencil", NONCE).unwrap()
    }

    #[test]
    fn rfc_7677_example() {
        let mut s = rfc7677();
        assert_eq!(s.mechanism().as_str(), "SCRAM-SHA-256");
        assert_eq!(
            s.initial_response().unwrap().expose(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        assert_eq!(s.respond(SERVER_FIRST).unwrap().expose(), CLIENT_FINAL);
        assert_eq!(
            s.finish(),
            Err(MechanismError::Incomplete),
            "not verified yet"
        );
        assert_eq!(s.respond(SERVER_FINAL).unwrap().expose(), b"");
        assert_eq!(s.finish(), Ok(()));
        assert!(s.respond(b"v=again").is_none(), "nothing after the end");
    }

    #[test]
    fn wrong_server_signature_cancels_and_fails() {
        let mut s = rfc7677();
        let _ = s.initial_response();
        let _ = s.respond(SERVER_FIRST).unwrap();
        let forged = b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert!(s.respond(forged).is_none());
        assert_eq!(s.finish(), Err(MechanismError::ServerSignature));
        // A signature of another length fails the same way.
        let mut s = rfc7677();
        let _ = s.initial_response();
        let _ = s.respond(SERVER_FIRST).unwrap();
        assert!(s.respond(b"v=AAAA").is_none());
        assert_eq!(s.finish(), Err(MechanismError::ServerSignature));
    }

    #[test]
    fn tampered_nonce_cancels() {
        for first in [
            &b"r=XOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"[..],
            b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"r=rOprNG,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        ] {
            let mut s = rfc7677();
            let _ = s.initial_response();
            assert!(s.respond(first).is_none());
            assert_eq!(s.finish(), Err(MechanismError::NonceMismatch));
        }
    }

    #[test]
    fn server_error_fails() {
        let mut s = rfc7677();
        let _ = s.initial_response();
        let _ = s.respond(SERVER_FIRST).unwrap();
        assert!(s.respond(b"e=invalid-proof").is_none());
        assert_eq!(
            s.finish(),
            Err(MechanismError::ServerError("invalid-proof".to_owned()))
        );
    }

    #[test]
    fn success_without_server_final_is_not_verified() {
        let mut s = rfc7677();
        let _ = s.initial_response();
        let _ = s.respond(SERVER_FIRST).unwrap();
        // 235 straight after client-final: finish is all the session calls.
        assert_eq!(s.finish(), Err(MechanismError::Incomplete));
    }

    #[test]
    fn bad_server_first_messages() {
        let cases: &[(&[u8], MechanismError)] = &[
            (
                b"m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=QUJD,i=4096",
                MechanismError::Malformed("server-first has a mandatory extension (m=)"),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,i=4096",
                MechanismError::Malformed("server-first has no salt (s=)"),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QUJD",
                MechanismError::Malformed("server-first has no iteration count (i=)"),
            ),
            (
                b"s=QUJD,i=4096",
                MechanismError::Malformed("server-first has no nonce (r=)"),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QUJD,i=0",
                MechanismError::Malformed("iteration count"),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QUJD,i=4095",
                MechanismError::IterationCount(4095),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QUJD,i=1000001",
                MechanismError::IterationCount(1_000_001),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=QUJD,i=99999999999999",
                MechanismError::IterationCount(u32::MAX),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=!!,i=4096",
                MechanismError::Malformed("salt is not base64"),
            ),
            (
                b"\xff",
                MechanismError::Malformed("server-first is not UTF-8"),
            ),
        ];
        for (first, want) in cases {
            let mut s = rfc7677();
            let _ = s.initial_response();
            assert!(s.respond(first).is_none(), "{first:?}");
            assert_eq!(s.finish().as_ref(), Err(want), "{first:?}");
        }
    }

    #[test]
    fn user_name_is_escaped_and_authzid_sent() {
        let mut s = ScramSha256::with_nonce("a,b=c", "pw", "abc")
            .unwrap()
            .with_authzid("x=y");
        assert_eq!(
            s.initial_response().unwrap().expose(),
            b"n,a=x=3Dy,n=a=2Cb=3Dc,r=abc"
        );
    }

    #[test]
    fn gs2_flags_follow_the_binding() {
        let cb = b"\x01\x02\x03".as_slice();
        // Binding known, server without -PLUS: "y" (downgrade detection).
        let mut s = rfc7677().with_channel_binding(Some(cb), false);
        assert!(s.initial_response().unwrap().expose().starts_with(b"y,,n="));
        // Binding known, server with -PLUS, plain variant chosen: "n".
        let mut s = rfc7677().with_channel_binding(Some(cb), true);
        assert!(s.initial_response().unwrap().expose().starts_with(b"n,,n="));
        // -PLUS: "p=tls-server-end-point", and c= carries the data.
        let mut s = rfc7677()
            .with_plus(true)
            .with_channel_binding(Some(cb), true);
        assert_eq!(s.mechanism().as_str(), "SCRAM-SHA-256-PLUS");
        let first = s.initial_response().unwrap();
        assert!(
            first
                .expose()
                .starts_with(b"p=tls-server-end-point,,n=user,")
        );
        let fin = s.respond(SERVER_FIRST).unwrap();
        let c = STANDARD.encode(b"p=tls-server-end-point,,\x01\x02\x03");
        assert!(
            fin.expose().starts_with(format!("c={c},").as_bytes()),
            "{:?}",
            String::from_utf8_lossy(fin.expose())
        );
        // -PLUS without binding data: nothing is sent.
        let mut s = rfc7677().with_plus(true);
        assert!(s.initial_response().is_none());
        assert_eq!(s.finish(), Err(MechanismError::ChannelBindingUnavailable));
    }

    #[test]
    fn saslprep_maps_and_refuses() {
        // U+00A0 (no-break space) maps to a space; U+00AD is deleted.
        let s = ScramSha256::with_nonce("user", "pen\u{a0}c\u{ad}il", "n").unwrap();
        assert_eq!(s.password.expose(), "pen cil");
        assert_eq!(
            ScramSha256::with_nonce("user", "bad\u{7}", "n").unwrap_err(),
            MechanismError::Saslprep("password")
        );
        assert!(ScramSha256::with_nonce("user", "pw", "a,b").is_err());
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut s = rfc7677();
        let _ = s.initial_response();
        let _ = s.respond(SERVER_FIRST);
        let shown = format!("{s:?}");
        assert!(!shown.contains("pencil"), "{shown}");
    }

    #[test]
    fn random_nonces_differ() {
        let mut a = ScramSha256::new("u", "p").unwrap();
        let mut b = ScramSha256::new("u", "p").unwrap();
        assert_ne!(
            a.initial_response().unwrap().expose(),
            b.initial_response().unwrap().expose()
        );
    }
}
