//! SCRAM-SHA-256 on the server's side, for tests: the messages a server
//! sends and expects for a given client-first, computed here from RFC 5802
//! §3 (so that a client bug does not also hide in its test server), and
//! the fault table both adapters run in their `tests/scram.rs`: EOF, 421
//! and a stall at each step inside the exchange.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// RFC 7677 §3's example: user, password, client nonce, the server's
/// nonce suffix, salt (base64) and iteration count.
pub const USER: &str = "user";
pub const PASSWORD: &str = "pencil";
pub const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
pub const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
pub const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
pub const ITERATIONS: u32 = 4096;

/// Base64, as SMTP AUTH carries SASL messages.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// One exchange's four messages (decoded).
#[derive(Clone, Debug)]
pub struct Exchange {
    pub client_first: Vec<u8>,
    pub server_first: Vec<u8>,
    pub client_final: Vec<u8>,
    pub server_final: Vec<u8>,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

impl Exchange {
    /// The exchange a server with `password` (RFC 7677's salt and count)
    /// holds with a client that sent `client_first`; `cbind_data` is the
    /// channel binding data the server expects for a `p=` header.
    pub fn answer(client_first: &[u8], password: &str, cbind_data: &[u8]) -> Exchange {
        let text = std::str::from_utf8(client_first).unwrap();
        // gs2-header = flag "," [authzid] ","
        let mut parts = text.splitn(3, ',');
        let flag = parts.next().unwrap();
        let authzid = parts.next().unwrap();
        let bare = parts.next().unwrap();
        let gs2_header = format!("{flag},{authzid},");
        let nonce = bare.split(',').find_map(|f| f.strip_prefix("r=")).unwrap();
        let full_nonce = format!("{nonce}{SERVER_NONCE}");
        let server_first = format!("r={full_nonce},s={SALT},i={ITERATIONS}");
        let mut cbind = gs2_header.into_bytes();
        if flag.starts_with("p=") {
            cbind.extend_from_slice(cbind_data);
        }
        let without_proof = format!("c={},r={full_nonce}", STANDARD.encode(&cbind));
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let mut salted = [0u8; 32];
        let salt = STANDARD.decode(SALT).unwrap();
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, ITERATIONS, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        let server_signature = hmac(&server_key, auth_message.as_bytes());
        Exchange {
            client_first: client_first.to_vec(),
            server_first: server_first.into_bytes(),
            client_final: format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes(),
            server_final: format!("v={}", STANDARD.encode(server_signature)).into_bytes(),
        }
    }

    /// RFC 7677 §3's example exchange (no channel binding).
    pub fn rfc7677() -> Exchange {
        Exchange::answer(
            format!("n,,n={USER},r={CLIENT_NONCE}").as_bytes(),
            PASSWORD,
            b"",
        )
    }

    /// Base64 of each message, as on the wire.
    pub fn wire(&self) -> [String; 4] {
        [
            STANDARD.encode(&self.client_first),
            STANDARD.encode(&self.server_first),
            STANDARD.encode(&self.client_final),
            STANDARD.encode(&self.server_final),
        ]
    }
}

/// The `tls-server-end-point` data of the hostile server's test
/// certificate: SHA-256 of its DER (RFC 5929 §4.1; the certificate is
/// signed with ECDSA-SHA256).
pub fn test_cert_end_point() -> Vec<u8> {
    let (pem, _) = crate::hostile::test_cert();
    let text = std::str::from_utf8(pem).unwrap();
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    Sha256::digest(STANDARD.decode(b64).unwrap()).to_vec()
}

/// One fault inside a SCRAM exchange, as a scenario for the hostile server
/// (plaintext, `allow_plaintext_auth`, the client's timeout `timeout`) and
/// the outcome `authenticate` with RFC 7677's fixed nonce must give, in
/// [`hostile_cases::error`](crate::hostile_cases::error)'s rendering.
#[derive(Clone, Debug)]
pub struct FaultCase {
    pub name: String,
    pub script: String,
    pub expect: &'static str,
}

/// The client's timeout in the fault cases; a stall lasts longer.
pub const FAULT_TIMEOUT: Duration = Duration::from_millis(400);

/// EOF, RST, 421, a stall and a slow drip after AUTH, after client-final
/// and after the empty answer to server-final; plus the wrong signature, `e=`, 535 and
/// the 235 without server-final.
pub fn fault_cases() -> Vec<FaultCase> {
    let [c1, s1, c2, s2] = Exchange::rfc7677().wire();
    let open = "S: 220 mx.test ESMTP\nC^ EHLO\nS: 250-mx.test\\r\\n250 AUTH SCRAM-SHA-256 PLAIN\n"
        .to_owned();
    let steps = [
        ("after AUTH", format!("C: AUTH SCRAM-SHA-256 {c1}\n")),
        (
            "after client-final",
            format!("C: AUTH SCRAM-SHA-256 {c1}\nS: 334 {s1}\nC: {c2}\n"),
        ),
        (
            "after the empty answer",
            format!("C: AUTH SCRAM-SHA-256 {c1}\nS: 334 {s1}\nC: {c2}\nS: 334 {s2}\nC: \n"),
        ),
    ];
    let mut cases = Vec::new();
    for (at, prefix) in &steps {
        cases.push(FaultCase {
            name: format!("EOF {at}"),
            script: format!("{open}{prefix}CLOSE\n"),
            expect: "ServerDisconnected(Some(Auth))",
        });
        cases.push(FaultCase {
            name: format!("RST {at}"),
            script: format!("{open}{prefix}RESET\n"),
            expect: "Io(ConnectionReset)",
        });
        // END: nothing may be written after the fault (no QUIT, no answer).
        cases.push(FaultCase {
            name: format!("421 {at}"),
            script: format!("{open}{prefix}S: 421 4.3.2 shutting down\nEND\n"),
            expect: "ServiceClosing(Auth, 421)",
        });
        cases.push(FaultCase {
            name: format!("stall {at}"),
            script: format!("{open}{prefix}STALL 2s\nEND\n"),
            expect: "Timeout(Some(Auth))",
        });
        // A byte every 50 ms never extends the reply's timeout.
        cases.push(FaultCase {
            name: format!("drip {at}"),
            script: format!("{open}{prefix}DRIP 50ms 334 this challenge never ends in time, however long the client waits for it\nEND\n"),
            expect: "Timeout(Some(Auth))",
        });
    }
    let first = format!("{open}C: AUTH SCRAM-SHA-256 {c1}\nS: 334 {s1}\nC: {c2}\n");
    let forged = STANDARD.encode(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    let error = STANDARD.encode(b"e=invalid-proof");
    cases.extend([
        FaultCase {
            name: "wrong server signature: cancelled, connection closed".into(),
            script: format!("{first}S: 334 {forged}\nC: *\nS: 501 5.7.0 cancelled\nEND\n"),
            expect: "MutualAuthFailed(SCRAM-SHA-256, ServerSignature, 501)",
        },
        FaultCase {
            name: "235 without server-final: not a success".into(),
            script: format!("{first}S: 235 2.7.0 ok\nEND\n"),
            expect: "MutualAuthFailed(SCRAM-SHA-256, Incomplete, 235)",
        },
        FaultCase {
            name: "e= from the server".into(),
            script: format!("{first}S: 334 {error}\nC: *\nS: 535 5.7.8 no\nBYE\n"),
            expect: "AuthenticationError(SCRAM-SHA-256, 535)",
        },
        FaultCase {
            name: "535 after client-final".into(),
            script: format!("{first}S: 535 5.7.8 Authentication failed\nBYE\n"),
            expect: "AuthenticationError(SCRAM-SHA-256, 535)",
        },
        FaultCase {
            name: "success".into(),
            script: format!("{first}S: 334 {s2}\nC: \nS: 235 2.7.0 ok\nBYE\n"),
            expect: "ok 235",
        },
    ]);
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_server_reproduces_rfc_7677() {
        let x = Exchange::rfc7677();
        assert_eq!(
            x.server_first,
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        assert_eq!(
            x.client_final,
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=".as_slice()
        );
        assert_eq!(
            x.server_final,
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".as_slice()
        );
    }
}
