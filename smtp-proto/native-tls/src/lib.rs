//! native-tls for the `smtp-blocking` and `smtp-tokio` adapters of
//! `smtp-proto`: what both need from the TLS library whatever their IO
//! model, written once. The handshake itself is each adapter's (a blocking
//! `native_tls` stream or a `tokio-native-tls` one).
//!
//! A client's TLS settings are [`TlsOptions`] (the name to verify and the
//! two dangerously named switches, part of the shared client options) and
//! a [`Setup`] (the caller's own connector, smtplib's `context`, and extra
//! root certificates). A [`Plan`] is what a connection keeps to start TLS
//! later (STARTTLS): those plus the name to verify.

#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly): mark items that need a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

use native_tls::{Certificate, TlsConnector};
use smtp_proto::session::{Error, TlsOptions, TlsSetup};

pub use native_tls;

/// The native-tls objects a builder holds.
pub type Setup = TlsSetup<TlsConnector, Certificate>;

/// How a connection starts TLS: the builder's objects, the certificate
/// checks, and the name the certificate must carry.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The caller's connector and extra roots.
    pub setup: Setup,
    /// Which checks apply.
    pub checks: TlsOptions,
    /// The name to verify.
    pub name: String,
}

impl Plan {
    /// The connector: the caller's as is, or one built from the system
    /// roots plus the extra roots, with verification on unless a
    /// dangerously named switch turned part of it off.
    ///
    /// # Errors
    /// [`Error::Tls`] when the TLS library cannot build it.
    pub fn connector(&self) -> Result<TlsConnector, Error> {
        if let Some(c) = &self.setup.connector {
            return Ok(c.clone());
        }
        let mut b = TlsConnector::builder();
        for cert in &self.setup.roots {
            b.add_root_certificate(cert.clone());
        }
        b.danger_accept_invalid_certs(self.checks.accept_invalid_certs)
            .danger_accept_invalid_hostnames(self.checks.accept_invalid_hostnames)
            .build()
            .map_err(Error::tls)
    }
}

/// Reads a PEM file of one or more certificates (for a builder's
/// `add_root_certificate`).
///
/// # Errors
/// [`Error::Io`] naming the file when it cannot be read or holds no
/// certificate, [`Error::Tls`] when a certificate is invalid.
pub fn load_pem_certificates(path: &std::path::Path) -> Result<Vec<Certificate>, Error> {
    let blocks = smtp_proto::pem::certificates_in(path, std::fs::read(path))?;
    blocks
        .iter()
        .map(|block| Certificate::from_pem(block.as_bytes()).map_err(Error::tls))
        .collect()
}

// The README's example, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
