//! rustls: the client configuration a client's settings describe, and the
//! two dangerously named verifiers that stand for native-tls's
//! `danger_accept_invalid_certs` and `danger_accept_invalid_hostnames`.

use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use smtp_proto::session::{Error, TlsOptions};

/// The crypto provider: ring, whatever provider the process installed as
/// its default (which may be aws-lc-rs, or none), so that a build needs no
/// cmake or nasm and behaves the same everywhere.
///
/// rustls 0.23.48 deprecated ring's provider because it has no
/// post-quantum key exchange (X25519MLKEM768); a program that wants one
/// gives the builder its own `ClientConfig` over aws-lc-rs.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    #[allow(deprecated)]
    let make = rustls::crypto::ring::default_provider;
    PROVIDER.get_or_init(|| Arc::new(make())).clone()
}

/// The roots the features name (the system's, Mozilla's, both or none),
/// read once per process: the system's store is hundreds of files, and a
/// pool opens many connections.
fn base_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        #[allow(unused_mut)]
        let mut roots = RootCertStore::empty();
        #[cfg(feature = "rustls-native-roots")]
        {
            // Unreadable or unparsable entries are skipped, as OpenSSL
            // skips them; with none at all, the verifier below says so.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
        #[cfg(feature = "rustls-webpki-roots")]
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        roots
    })
}

/// A client configuration trusting the features' roots plus `extra`, with
/// verification on unless a dangerously named switch turned part of it off,
/// and no client certificate (that takes the caller's own configuration).
pub(crate) fn config(
    extra: Vec<CertificateDer<'static>>,
    checks: &TlsOptions,
) -> Result<Arc<ClientConfig>, Error> {
    let provider = provider();
    let verifier = verifier(&provider, extra, checks)?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::tls)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificate verifier `checks` ask for: webpki's over the features'
/// roots plus `extra`, or one of the two dangerous ones.
fn verifier(
    provider: &Arc<CryptoProvider>,
    extra: Vec<CertificateDer<'static>>,
    checks: &TlsOptions,
) -> Result<Arc<dyn ServerCertVerifier>, Error> {
    let algorithms = provider.signature_verification_algorithms;
    if checks.accept_invalid_certs {
        return Ok(Arc::new(DangerousAcceptAnyCertificate { algorithms }));
    }
    let mut roots = base_roots().clone();
    for der in extra {
        roots.add(der).map_err(Error::tls)?;
    }
    let roots = Arc::new(roots);
    let webpki = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(Error::tls)?;
    if checks.accept_invalid_hostnames {
        Ok(Arc::new(DangerousIgnoreHostname {
            webpki,
            roots,
            algorithms,
        }))
    } else {
        Ok(webpki)
    }
}

/// **Dangerous**: accepts any server certificate (native-tls's
/// `danger_accept_invalid_certs`). The handshake signatures are still
/// checked against the certificate's key, as OpenSSL checks them, so the
/// peer must at least hold the key of the certificate it shows.
#[derive(Debug)]
struct DangerousAcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for DangerousAcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// **Dangerous**: accepts a certificate that chains to a trusted root but
/// was issued to another name (native-tls's
/// `danger_accept_invalid_hostnames`). Everything else is webpki's: the
/// chain, validity dates and key usage are checked as usual.
#[derive(Debug)]
struct DangerousIgnoreHostname {
    webpki: Arc<WebPkiServerVerifier>,
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for DangerousIgnoreHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {
                // Only the name was wrong. The chain is checked again here
                // rather than trusting webpki's order of checks (today the
                // name comes last), so that a wrong name never hides another
                // failure.
                let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_cert_signed_by_trust_anchor(
                    &cert,
                    &self.roots,
                    intermediates,
                    now,
                    self.algorithms.all,
                )?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use rustls::pki_types::pem::PemObject;

    /// The hostile server's self-signed test certificate (for `localhost`
    /// and 127.0.0.1), as DER.
    fn test_cert() -> CertificateDer<'static> {
        let (pem, _) = smtp_testkit::hostile::test_cert();
        CertificateDer::from_pem_slice(pem).unwrap()
    }

    fn verify(checks: &TlsOptions, roots: Vec<CertificateDer<'static>>, name: &str) -> bool {
        let verifier = verifier(&provider(), roots, checks).unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        verifier
            .verify_server_cert(&test_cert(), &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    fn checks(invalid_certs: bool, invalid_hostnames: bool) -> TlsOptions {
        let mut checks = TlsOptions::default();
        checks.accept_invalid_certs = invalid_certs;
        checks.accept_invalid_hostnames = invalid_hostnames;
        checks
    }

    #[test]
    fn the_switches_turn_off_what_they_name_and_nothing_more() {
        let trusted = || vec![test_cert()];
        assert!(verify(&checks(false, false), trusted(), "localhost"));
        assert!(verify(&checks(false, false), trusted(), "127.0.0.1"));
        assert!(!verify(
            &checks(false, false),
            trusted(),
            "mail.example.com"
        ));
        // Another name, accepted only with the dangerous switch...
        assert!(verify(&checks(false, true), trusted(), "mail.example.com"));
        // ...which does not accept an untrusted certificate, whatever its
        // name.
        let untrusted = || Vec::new();
        if !base_roots().is_empty() {
            assert!(!verify(&checks(false, true), untrusted(), "localhost"));
            assert!(!verify(&checks(false, true), untrusted(), "example.com"));
            assert!(!verify(&checks(false, false), untrusted(), "localhost"));
        }
        // Accepting any certificate is the other switch.
        assert!(verify(
            &checks(true, false),
            untrusted(),
            "mail.example.com"
        ));
    }

    #[test]
    fn no_roots_at_all_is_a_tls_error_not_a_panic() {
        if base_roots().is_empty() {
            let e = config(Vec::new(), &TlsOptions::default()).unwrap_err();
            assert!(matches!(e, Error::Tls(_)), "{e:?}");
        }
    }
}
