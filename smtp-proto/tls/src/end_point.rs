//! `tls-server-end-point` channel binding data (RFC 5929 §4.1) from the
//! server's certificate, for TLS libraries that do not compute it (rustls).
//!
//! The data is a hash of the DER certificate, the hash being the one of
//! the certificate's own `signatureAlgorithm`, with MD5 and SHA-1 replaced
//! by SHA-256. Only the outer `signatureAlgorithm` is read, with a small
//! DER reader that checks every length against what is there: the input is
//! the peer's, and a certificate rustls accepted may still be one that
//! `accept_invalid_certs` let through unparsed.

use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// DER tags (universal class).
const SEQUENCE: u8 = 0x30;
const OBJECT_IDENTIFIER: u8 = 0x06;

/// The hashes RFC 5929 §4.1 can lead to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// The `tls-server-end-point` data of the certificate `certificate_der`
/// (RFC 5929 §4.1): its hash under its `signatureAlgorithm`'s hash (MD5
/// and SHA-1 become SHA-256). `None` when the signature algorithm has no
/// single hash to use (RSASSA-PSS, whose hash is in its parameters; Ed25519
/// and Ed448, which have none) or is unknown, or when the input is not a
/// certificate: then SCRAM's -PLUS is not offered. This is the value
/// native-tls's `tls_server_end_point` gives.
pub fn tls_server_end_point(certificate_der: &[u8]) -> Option<Vec<u8>> {
    let hash = hash_of(signature_algorithm(certificate_der)?)?;
    Some(match hash {
        Hash::Sha224 => Sha224::digest(certificate_der).to_vec(),
        Hash::Sha256 => Sha256::digest(certificate_der).to_vec(),
        Hash::Sha384 => Sha384::digest(certificate_der).to_vec(),
        Hash::Sha512 => Sha512::digest(certificate_der).to_vec(),
    })
}

/// The hash for a signature algorithm's OID (its DER contents).
fn hash_of(oid: &[u8]) -> Option<Hash> {
    // 1.2.840.113549.1.1.n: PKCS #1 RSA.
    const PKCS1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    // 1.2.840.10045.4: ECDSA (4.1 with SHA-1, 4.3.n with SHA-2).
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    // 1.2.840.10040.4.3: DSA with SHA-1.
    const DSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03];
    // 2.16.840.1.101.3.4.3.n: DSA with SHA-2 (NIST).
    const DSA_SHA2: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03];
    // 1.3.14.3.2.29: the old OIW sha1WithRSASignature.
    const OIW_SHA1_RSA: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1d];
    if let Some(n) = oid.strip_prefix(PKCS1) {
        return match n {
            // md5WithRSA, sha1WithRSA: SHA-256 (RFC 5929 §4.1).
            [0x04] | [0x05] => Some(Hash::Sha256),
            [0x0b] => Some(Hash::Sha256),
            [0x0c] => Some(Hash::Sha384),
            [0x0d] => Some(Hash::Sha512),
            [0x0e] => Some(Hash::Sha224),
            // RSASSA-PSS (10): the hash is a parameter, none is taken.
            _ => None,
        };
    }
    if let Some(n) = oid.strip_prefix(ECDSA) {
        return match n {
            [0x01] => Some(Hash::Sha256),
            [0x03, 0x01] => Some(Hash::Sha224),
            [0x03, 0x02] => Some(Hash::Sha256),
            [0x03, 0x03] => Some(Hash::Sha384),
            [0x03, 0x04] => Some(Hash::Sha512),
            _ => None,
        };
    }
    if oid == DSA_SHA1 || oid == OIW_SHA1_RSA {
        return Some(Hash::Sha256);
    }
    match oid.strip_prefix(DSA_SHA2)? {
        [0x01] => Some(Hash::Sha224),
        [0x02] => Some(Hash::Sha256),
        _ => None,
    }
}

/// The OID (its DER contents) of a certificate's outer
/// `signatureAlgorithm` (RFC 5280 §4.1):
///
/// ```text
/// Certificate ::= SEQUENCE { tbsCertificate TBSCertificate,
///     signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
/// AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER,
///     parameters ANY OPTIONAL }
/// ```
fn signature_algorithm(der: &[u8]) -> Option<&[u8]> {
    let (certificate, trailing) = element(der, SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (_tbs, rest) = element(certificate, SEQUENCE)?;
    let (algorithm, _signature) = element(rest, SEQUENCE)?;
    let (oid, _parameters) = element(algorithm, OBJECT_IDENTIFIER)?;
    Some(oid)
}

/// The DER element with tag `tag` at the start of `input`: its contents
/// and what follows it. `None` for another tag, a length that is not DER
/// (indefinite, not minimal, over four bytes) or one longer than the input.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        if bytes.first() == Some(&0) {
            return None;
        }
        let len = bytes.iter().try_fold(0usize, |len, &b| {
            len.checked_mul(256)?.checked_add(usize::from(b))
        })?;
        if len < 0x80 {
            return None;
        }
        (len, rest)
    };
    rest.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// A certificate-shaped DER value whose outer signatureAlgorithm is
    /// `oid` (its contents), with `params` after it.
    fn shaped(oid: &[u8], params: &[u8]) -> Vec<u8> {
        let tbs = [SEQUENCE, 3, 0x02, 0x01, 0x01];
        let mut alg = vec![OBJECT_IDENTIFIER, oid.len() as u8];
        alg.extend_from_slice(oid);
        alg.extend_from_slice(params);
        let mut inner = tbs.to_vec();
        inner.extend_from_slice(&[SEQUENCE, alg.len() as u8]);
        inner.extend_from_slice(&alg);
        inner.extend_from_slice(&[0x03, 0x02, 0x00, 0xff]);
        let mut der = vec![SEQUENCE, inner.len() as u8];
        der.extend_from_slice(&inner);
        der
    }

    const PKCS1: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];

    fn pkcs1(n: u8) -> Vec<u8> {
        let mut oid = PKCS1.to_vec();
        oid.push(n);
        oid
    }

    #[test]
    fn the_hash_follows_the_signature_algorithm() {
        let null = [0x05, 0x00];
        let cases: [(Vec<u8>, Option<usize>); 12] = [
            (pkcs1(0x04), Some(32)), // MD5 -> SHA-256
            (pkcs1(0x05), Some(32)), // SHA-1 -> SHA-256
            (pkcs1(0x0b), Some(32)),
            (pkcs1(0x0c), Some(48)),
            (pkcs1(0x0d), Some(64)),
            (pkcs1(0x0e), Some(28)),
            (pkcs1(0x0a), None), // RSASSA-PSS
            (vec![0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01], Some(32)),
            (
                vec![0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],
                Some(48),
            ),
            (
                vec![0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],
                Some(64),
            ),
            (vec![0x2b, 0x65, 0x70], None), // Ed25519
            (vec![0x2b, 0x0e, 0x03, 0x02, 0x1d], Some(32)),
        ];
        for (oid, len) in cases {
            let der = shaped(&oid, &null);
            let got = tls_server_end_point(&der);
            assert_eq!(got.as_ref().map(Vec::len), len, "{oid:02x?}");
            if len == Some(32) {
                assert_eq!(got.unwrap(), Sha256::digest(&der).to_vec());
            }
        }
    }

    #[test]
    fn anything_but_a_certificate_is_none_never_a_panic() {
        let good = shaped(&pkcs1(0x0b), &[0x05, 0x00]);
        assert!(tls_server_end_point(&good).is_some());
        // Every truncation, and every single-byte change of the framing.
        for cut in 0..good.len() {
            assert_eq!(tls_server_end_point(&good[..cut]), None, "cut at {cut}");
        }
        for i in 0..good.len() {
            for b in [0x00, 0x7f, 0x80, 0x81, 0x84, 0x85, 0xff] {
                let mut bad = good.clone();
                bad[i] = b;
                let _ = tls_server_end_point(&bad);
            }
        }
        // Trailing bytes after the certificate.
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(tls_server_end_point(&trailing), None);
        // Long-form lengths: indefinite, not minimal, more than four bytes,
        // and one past the end of the input.
        for bad in [
            &[0x30, 0x80, 0x00, 0x00][..],
            &[0x30, 0x81, 0x05, 1, 2, 3, 4, 5],
            &[0x30, 0x82, 0x00, 0x80],
            &[0x30, 0x85, 1, 0, 0, 0, 0],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[],
        ] {
            assert_eq!(element(bad, SEQUENCE), None, "{bad:02x?}");
        }
        let mut long = vec![0x30, 0x81, 0x80];
        long.extend_from_slice(&[0; 0x80]);
        assert_eq!(
            element(&long, SEQUENCE).map(|(c, r)| (c.len(), r.len())),
            Some((0x80, 0))
        );
    }

    #[test]
    fn the_test_certificate_gives_the_value_native_tls_gives() {
        // smtp_testkit computes it as native-tls does for this certificate
        // (ECDSA with SHA-256: the SHA-256 of the DER).
        let (pem, _) = smtp_testkit::hostile::test_cert();
        let der = pem_to_der(pem);
        assert_eq!(
            tls_server_end_point(&der),
            Some(smtp_testkit::scram::test_cert_end_point())
        );
    }

    /// The first certificate of a PEM text, as DER (for tests, without a
    /// TLS library).
    fn pem_to_der(pem: &[u8]) -> Vec<u8> {
        let text = std::str::from_utf8(pem).unwrap();
        let b64: String = text
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        decode_base64(&b64)
    }

    fn decode_base64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for c in text.bytes().filter(|&c| c != b'=') {
            let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }

    /// For several signature algorithms, a certificate made with the
    /// `openssl` CLI, served by native-tls on loopback: this function's
    /// value equals native-tls's `tls_server_end_point` for it.
    #[cfg(feature = "native-tls")]
    #[test]
    fn agrees_with_native_tls_for_each_signature_algorithm() {
        use std::io::Read;
        let dir = std::env::temp_dir().join(format!("smtp-tls-end-point-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kinds: [(&str, &[&str]); 6] = [
            ("rsa-sha256", &["-newkey", "rsa:2048", "-sha256"]),
            ("rsa-sha512", &["-newkey", "rsa:2048", "-sha512"]),
            ("rsa-sha1", &["-newkey", "rsa:2048", "-sha1"]),
            (
                "ec-sha384",
                &[
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:secp384r1",
                    "-sha384",
                ],
            ),
            ("ed25519", &["-newkey", "ed25519"]),
            (
                "rsa-pss",
                &[
                    "-newkey",
                    "rsa-pss",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-sha256",
                ],
            ),
        ];
        for (name, args) in kinds {
            let (cert, key) = (
                dir.join(format!("{name}.pem")),
                dir.join(format!("{name}.key")),
            );
            let out = std::process::Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=localhost",
                ])
                .args(args)
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .output()
                .expect("the openssl CLI");
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (cert, key) = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
            let identity = native_tls::Identity::from_pkcs8(&cert, &key).unwrap();
            let acceptor = native_tls::TlsAcceptor::builder(identity).build().unwrap();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = std::thread::spawn(move || {
                let (socket, _) = listener.accept().unwrap();
                if let Ok(mut tls) = acceptor.accept(socket) {
                    let _ = tls.read(&mut [0u8; 1]);
                }
            });
            let connector = native_tls::TlsConnector::builder()
                .danger_accept_invalid_certs(true)
                .build()
                .unwrap();
            let socket = std::net::TcpStream::connect(addr).unwrap();
            let tls = connector.connect("localhost", socket).unwrap();
            let native = tls.tls_server_end_point().unwrap();
            let der = tls.peer_certificate().unwrap().unwrap().to_der().unwrap();
            assert_eq!(der, pem_to_der(&cert), "{name}");
            assert_eq!(tls_server_end_point(&der), native, "{name}");
            if name.starts_with("rsa-sha") {
                assert!(native.is_some(), "{name}");
            }
            drop(tls);
            server.join().unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
