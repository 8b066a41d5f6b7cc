//! The TLS glue of the `smtp-blocking` and `smtp-tokio` adapters of
//! `smtp-proto`: what both need from a TLS library whatever their IO model,
//! written once, for each backend they can be built with. The handshake
//! itself is each adapter's (a blocking stream, or a Tokio one).
//!
//! # Backends
//!
//! Cargo features choose which TLS libraries are compiled in:
//!
//! - `native-tls`: the platform's library (OpenSSL on Linux) through the
//!   `native-tls` crate; the adapters' default.
//! - `rustls`: rustls 0.23 with the `ring` crypto provider, trusting only
//!   the roots it is given, plus `rustls-native-roots` (the system's roots,
//!   through `rustls-native-certs`) and `rustls-webpki-roots` (Mozilla's,
//!   compiled in through `webpki-roots`). The adapters' `rustls` feature is
//!   rustls with the system's roots.
//!
//! Features are additive: with both backends compiled in, the caller's own
//! connector decides ([`Connector`]), else the builder's `tls_backend`,
//! else **rustls**: nobody turns rustls on by accident, while native-tls is
//! on whenever a crate in the build left the adapter's default features
//! alone. Neither compiled in: building a connector fails with
//! [`Error::Tls`] carrying a [`BackendUnavailable`].
//!
//! # What a client holds
//!
//! A client's TLS settings are [`TlsOptions`] (the name to verify and the
//! two dangerously named switches, part of the shared client options) and
//! a [`Setup`] (the caller's own [`Connector`], smtplib's `context`; extra
//! root [`Certificate`]s; the backend asked for). A [`Plan`] is what a
//! connection keeps to start TLS later (STARTTLS): those plus the name to
//! verify.
//!
//! # Channel binding
//!
//! SCRAM-SHA-256-PLUS binds to `tls-server-end-point` (RFC 5929 §4.1),
//! which native-tls computes itself; rustls does not, so
//! [`tls_server_end_point`] computes it from the server's certificate.

#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly): mark items that need a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod end_point;
#[cfg(feature = "native-tls")]
mod native_backend;
#[cfg(feature = "rustls")]
mod rustls_backend;

use std::fmt;
#[cfg(feature = "rustls")]
use std::sync::Arc;

pub use end_point::tls_server_end_point;
#[cfg(feature = "native-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "native-tls")))]
pub use native_tls;
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use rustls;
use smtp_proto::session::{Error, TlsBackend, TlsOptions, TlsSetup};

/// The TLS objects a builder holds: the caller's [`Connector`], extra
/// root [`Certificate`]s, and the backend asked for.
pub type Setup = TlsSetup<Connector, Certificate>;

/// A ready TLS connector of one backend: the caller's own (smtplib's
/// `context`, for instance with a client certificate) or one a [`Plan`]
/// built. Its variants exist as their backend's feature is on.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum Connector {
    /// A native-tls connector.
    #[cfg(feature = "native-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "native-tls")))]
    NativeTls(native_tls::TlsConnector),
    /// A rustls client configuration.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    Rustls(Arc<rustls::ClientConfig>),
}

impl Connector {
    /// The backend this connector belongs to.
    pub fn backend(&self) -> TlsBackend {
        match *self {
            #[cfg(feature = "native-tls")]
            Connector::NativeTls(_) => TlsBackend::NativeTls,
            #[cfg(feature = "rustls")]
            Connector::Rustls(_) => TlsBackend::Rustls,
        }
    }
}

#[cfg(feature = "native-tls")]
impl From<native_tls::TlsConnector> for Connector {
    fn from(c: native_tls::TlsConnector) -> Self {
        Connector::NativeTls(c)
    }
}

#[cfg(feature = "rustls")]
impl From<Arc<rustls::ClientConfig>> for Connector {
    fn from(c: Arc<rustls::ClientConfig>) -> Self {
        Connector::Rustls(c)
    }
}

#[cfg(feature = "rustls")]
impl From<rustls::ClientConfig> for Connector {
    fn from(c: rustls::ClientConfig) -> Self {
        Connector::Rustls(Arc::new(c))
    }
}

/// A root certificate to trust in addition to the backend's own roots,
/// usable with either backend: one made by one backend's library is
/// converted (through its DER form) when the other one connects.
#[derive(Clone)]
pub struct Certificate(Repr);

#[derive(Clone)]
enum Repr {
    #[cfg(feature = "native-tls")]
    NativeTls(native_tls::Certificate),
    #[cfg(feature = "rustls")]
    Der(rustls::pki_types::CertificateDer<'static>),
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Certificate")
    }
}

impl Certificate {
    /// One certificate in PEM form (the first `CERTIFICATE` block).
    /// rustls' form (DER) when rustls is compiled in, the default backend
    /// then; otherwise native-tls's.
    ///
    /// # Errors
    /// [`Error::Tls`] when it is not a certificate, or no backend is
    /// compiled in.
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, Error> {
        #[cfg(feature = "rustls")]
        {
            use rustls::pki_types::pem::PemObject;
            let der = rustls::pki_types::CertificateDer::from_pem_slice(pem).map_err(Error::tls)?;
            Certificate::checked_der(der)
        }
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        {
            native_tls::Certificate::from_pem(pem)
                .map(Certificate::from)
                .map_err(Error::tls)
        }
        #[cfg(not(any(feature = "native-tls", feature = "rustls")))]
        {
            let _ = pem;
            Err(Error::tls(BackendUnavailable { wanted: None }))
        }
    }

    /// One certificate in DER form.
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem).
    pub fn from_der(der: &[u8]) -> Result<Certificate, Error> {
        #[cfg(feature = "rustls")]
        {
            Certificate::checked_der(rustls::pki_types::CertificateDer::from(der.to_vec()))
        }
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        {
            native_tls::Certificate::from_der(der)
                .map(Certificate::from)
                .map_err(Error::tls)
        }
        #[cfg(not(any(feature = "native-tls", feature = "rustls")))]
        {
            let _ = der;
            Err(Error::tls(BackendUnavailable { wanted: None }))
        }
    }

    /// `der` once rustls has parsed it as a trust anchor, so that a bad
    /// certificate fails where it is loaded, as native-tls's does.
    #[cfg(feature = "rustls")]
    fn checked_der(der: rustls::pki_types::CertificateDer<'static>) -> Result<Certificate, Error> {
        rustls::RootCertStore::empty()
            .add(der.clone())
            .map_err(Error::tls)?;
        Ok(Certificate(Repr::Der(der)))
    }

    /// This certificate as native-tls takes it.
    #[cfg(feature = "native-tls")]
    fn to_native(&self) -> Result<native_tls::Certificate, Error> {
        match &self.0 {
            Repr::NativeTls(c) => Ok(c.clone()),
            #[cfg(feature = "rustls")]
            Repr::Der(der) => native_tls::Certificate::from_der(der).map_err(Error::tls),
        }
    }

    /// This certificate as rustls takes it.
    #[cfg(feature = "rustls")]
    fn to_der(&self) -> Result<rustls::pki_types::CertificateDer<'static>, Error> {
        match &self.0 {
            #[cfg(feature = "native-tls")]
            Repr::NativeTls(c) => c
                .to_der()
                .map(rustls::pki_types::CertificateDer::from)
                .map_err(Error::tls),
            Repr::Der(der) => Ok(der.clone()),
        }
    }
}

#[cfg(feature = "native-tls")]
impl From<native_tls::Certificate> for Certificate {
    fn from(c: native_tls::Certificate) -> Self {
        Certificate(Repr::NativeTls(c))
    }
}

#[cfg(feature = "rustls")]
impl From<rustls::pki_types::CertificateDer<'static>> for Certificate {
    fn from(der: rustls::pki_types::CertificateDer<'static>) -> Self {
        Certificate(Repr::Der(der))
    }
}

/// The TLS backend asked for is not compiled in (or none is): the
/// [`Error::Tls`] a connection that needs TLS then fails with. A program
/// can tell it from a handshake failure with `downcast_ref`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendUnavailable {
    /// The backend asked for; `None` when no backend is compiled in at all.
    pub wanted: Option<TlsBackend>,
}

impl fmt::Display for BackendUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.wanted {
            Some(TlsBackend::NativeTls) => f.write_str(
                "the native-tls TLS backend is not compiled in: \
                 enable the adapter's `native-tls` feature",
            ),
            Some(TlsBackend::Rustls) => f.write_str(
                "the rustls TLS backend is not compiled in: \
                 enable the adapter's `rustls` feature",
            ),
            Some(other) => write!(f, "the {other:?} TLS backend is not compiled in"),
            None => f.write_str(
                "no TLS backend is compiled in: enable the adapter's \
                 `native-tls` or `rustls` feature",
            ),
        }
    }
}

impl std::error::Error for BackendUnavailable {}

/// Whether `backend` is compiled in.
fn compiled_in(backend: TlsBackend) -> bool {
    (backend == TlsBackend::NativeTls && cfg!(feature = "native-tls"))
        || (backend == TlsBackend::Rustls && cfg!(feature = "rustls"))
}

/// How a connection starts TLS: the builder's objects, the certificate
/// checks, and the name the certificate must carry.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The caller's connector, extra roots and backend choice.
    pub setup: Setup,
    /// Which checks apply.
    pub checks: TlsOptions,
    /// The name to verify.
    pub name: String,
}

impl Plan {
    /// The backend a handshake uses: the connector's when there is one,
    /// else the one asked for, else rustls when compiled in (see the crate
    /// docs for why), else native-tls.
    ///
    /// # Errors
    /// [`Error::Tls`] with a [`BackendUnavailable`] when that backend is
    /// not compiled in.
    pub fn backend(&self) -> Result<TlsBackend, Error> {
        if let Some(c) = &self.setup.connector {
            return Ok(c.backend());
        }
        let backend = match self.setup.backend {
            Some(wanted) => wanted,
            None if cfg!(feature = "rustls") => TlsBackend::Rustls,
            None if cfg!(feature = "native-tls") => TlsBackend::NativeTls,
            None => return Err(Error::tls(BackendUnavailable { wanted: None })),
        };
        if compiled_in(backend) {
            Ok(backend)
        } else {
            Err(Error::tls(BackendUnavailable {
                wanted: Some(backend),
            }))
        }
    }

    /// The connector: the caller's as is, or one of [`backend`](Self::backend)
    /// built from its roots (see the crate docs) plus the extra roots, with
    /// verification on unless a dangerously named switch turned part of it
    /// off.
    ///
    /// # Errors
    /// [`Error::Tls`] when the backend is not compiled in, a root is
    /// unusable, or the TLS library cannot build the connector.
    // Built without a backend, a connector does not exist.
    #[cfg_attr(
        not(any(feature = "native-tls", feature = "rustls")),
        allow(unreachable_code)
    )]
    pub fn connector(&self) -> Result<Connector, Error> {
        if let Some(c) = &self.setup.connector {
            return Ok(c.clone());
        }
        match self.backend()? {
            #[cfg(feature = "native-tls")]
            TlsBackend::NativeTls => {
                let roots = self.setup.roots.iter().map(Certificate::to_native);
                let roots = roots.collect::<Result<Vec<_>, _>>()?;
                native_backend::connector(&roots, &self.checks).map(Connector::NativeTls)
            }
            #[cfg(feature = "rustls")]
            TlsBackend::Rustls => {
                let roots = self.setup.roots.iter().map(Certificate::to_der);
                let roots = roots.collect::<Result<Vec<_>, _>>()?;
                rustls_backend::config(roots, &self.checks).map(Connector::Rustls)
            }
            other => Err(Error::tls(BackendUnavailable {
                wanted: Some(other),
            })),
        }
    }

    /// When `tls_needed`, builds the connector now and keeps it in the
    /// caller's place (the same one a handshake would build), so that a
    /// backend that is not there, or a bad root, fails before the first
    /// byte of the session, and STARTTLS does not build it again.
    ///
    /// # Errors
    /// As [`connector`](Self::connector).
    pub fn prepare(mut self, tls_needed: bool) -> Result<Plan, Error> {
        if tls_needed && self.setup.connector.is_none() {
            self.setup.connector = Some(self.connector()?);
        }
        Ok(self)
    }

    /// The name to verify as rustls takes it (a DNS name or an IP address).
    ///
    /// # Errors
    /// [`Error::Tls`] when it is neither.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn server_name(&self) -> Result<rustls::pki_types::ServerName<'static>, Error> {
        rustls::pki_types::ServerName::try_from(self.name.clone()).map_err(Error::tls)
    }
}

/// Reads a PEM file of one or more certificates (for a builder's
/// `add_root_certificate`).
///
/// # Errors
/// [`Error::Io`] naming the file when it cannot be read or holds no
/// certificate, [`Error::Tls`] when a certificate is invalid or no backend
/// is compiled in.
pub fn load_pem_certificates(path: &std::path::Path) -> Result<Vec<Certificate>, Error> {
    let blocks = smtp_proto::pem::certificates_in(path, std::fs::read(path))?;
    blocks
        .iter()
        .map(|block| Certificate::from_pem(block.as_bytes()))
        .collect()
}

/// The `tls-server-end-point` channel binding data (RFC 5929 §4.1) of a
/// rustls connection, from the server's end-entity certificate; `None`
/// before the handshake or when it has no single hash (see
/// [`tls_server_end_point`]).
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub fn rustls_end_point(connection: &rustls::ClientConnection) -> Option<Vec<u8>> {
    connection
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| tls_server_end_point(cert))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn unavailable(e: &Error) -> Option<&BackendUnavailable> {
        match e {
            Error::Tls(inner) => inner.downcast_ref(),
            _ => None,
        }
    }

    fn plan(backend: Option<TlsBackend>) -> Plan {
        let mut plan = Plan::default();
        plan.setup.backend = backend;
        plan.name = "localhost".to_owned();
        plan
    }

    #[test]
    fn the_backend_rule() {
        let default = plan(None).backend();
        if cfg!(feature = "rustls") {
            assert_eq!(
                default.unwrap(),
                TlsBackend::Rustls,
                "rustls when compiled in"
            );
        } else if cfg!(feature = "native-tls") {
            assert_eq!(default.unwrap(), TlsBackend::NativeTls);
        } else {
            let e = default.unwrap_err();
            assert_eq!(unavailable(&e), Some(&BackendUnavailable { wanted: None }));
            assert!(e.to_string().contains("no TLS backend"), "{e}");
        }
        for (backend, compiled) in [
            (TlsBackend::NativeTls, cfg!(feature = "native-tls")),
            (TlsBackend::Rustls, cfg!(feature = "rustls")),
        ] {
            let asked = plan(Some(backend));
            match asked.backend() {
                Ok(b) => assert!(compiled && b == backend),
                Err(e) => {
                    assert!(!compiled);
                    let wanted = Some(backend);
                    assert_eq!(unavailable(&e), Some(&BackendUnavailable { wanted }));
                    // Nothing is built, and the typed error says which
                    // feature to turn on.
                    let e = asked.prepare(true).unwrap_err();
                    assert!(unavailable(&e).is_some(), "{e:?}");
                    assert!(e.to_string().contains("feature"), "{e}");
                }
            }
        }
        // Without TLS to come, nothing is built and nothing fails.
        assert!(plan(Some(TlsBackend::Rustls)).prepare(false).is_ok());
        assert!(plan(Some(TlsBackend::NativeTls)).prepare(false).is_ok());
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn the_callers_connector_picks_its_backend_and_is_used_as_is() {
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let config = Arc::new(config);
        let mut p = plan(Some(TlsBackend::NativeTls));
        p.setup.connector = Some(Connector::from(config.clone()));
        assert_eq!(p.backend().unwrap(), TlsBackend::Rustls);
        match p.prepare(true).unwrap().connector().unwrap() {
            Connector::Rustls(c) => assert!(Arc::ptr_eq(&c, &config)),
            #[allow(unreachable_patterns)]
            other => panic!("{other:?}"),
        }
    }

    #[cfg(any(feature = "native-tls", feature = "rustls"))]
    #[test]
    fn prepare_builds_the_connector_once_with_the_extra_roots() {
        let (pem, _) = smtp_testkit::hostile::test_cert();
        let mut p = plan(None);
        p.setup.roots.push(Certificate::from_pem(pem).unwrap());
        let p = p.prepare(true).unwrap();
        let built = p.setup.connector.clone().unwrap();
        assert_eq!(built.backend(), p.backend().unwrap());
    }

    #[cfg(any(feature = "native-tls", feature = "rustls"))]
    #[test]
    fn certificates_load_from_pem_files_and_bad_ones_fail_where_loaded() {
        let (pem, _) = smtp_testkit::hostile::test_cert();
        let dir = std::env::temp_dir().join(format!("smtp-tls-pem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let two = dir.join("two.pem");
        let mut bundle = b"# a comment\n".to_vec();
        bundle.extend_from_slice(pem);
        bundle.extend_from_slice(pem);
        std::fs::write(&two, &bundle).unwrap();
        assert_eq!(load_pem_certificates(&two).unwrap().len(), 2);
        let bad = dir.join("bad.pem");
        let text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        std::fs::write(&bad, text).unwrap();
        let e = load_pem_certificates(&bad).unwrap_err();
        assert!(matches!(e, Error::Tls(_)), "{e:?}");
        let e = load_pem_certificates(&dir.join("missing.pem")).unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A certificate made by one backend's library serves the other.
    #[cfg(all(feature = "native-tls", feature = "rustls"))]
    #[test]
    fn certificates_cross_between_backends() {
        let (pem, _) = smtp_testkit::hostile::test_cert();
        let native = Certificate::from(native_tls::Certificate::from_pem(pem).unwrap());
        let der = Certificate::from_pem(pem).unwrap();
        assert_eq!(native.to_der().unwrap(), der.to_der().unwrap());
        assert_eq!(
            der.to_native().unwrap().to_der().unwrap(),
            native.to_native().unwrap().to_der().unwrap()
        );
    }
}

// The README's example, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
