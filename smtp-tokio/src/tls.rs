//! TLS: the STARTTLS policy, the connector (verification on unless an
//! option whose name says "dangerous" turns it off), and the handshake.

use std::time::Duration;

use native_tls::{Certificate, TlsConnector};

use crate::transport::{Base, Transport};
use smtp_proto::session::{Error, TlsOptions, TlsSetup};

/// The native-tls objects a builder holds.
pub(crate) type Setup = TlsSetup<TlsConnector, Certificate>;

/// How the driver builds the TLS layer for STARTTLS: the builder's
/// objects, the checks, and the name to verify.
pub(crate) type Plan = (Setup, TlsOptions, String);

/// The connector: the caller's, or one built from the options (system
/// roots plus any extra roots, verification on unless turned off).
pub(crate) fn connector(setup: &Setup, checks: &TlsOptions) -> Result<TlsConnector, Error> {
    if let Some(c) = &setup.connector {
        return Ok(c.clone());
    }
    let mut b = TlsConnector::builder();
    for cert in &setup.roots {
        b.add_root_certificate(cert.clone());
    }
    b.danger_accept_invalid_certs(checks.accept_invalid_certs)
        .danger_accept_invalid_hostnames(checks.accept_invalid_hostnames)
        .build()
        .map_err(Error::tls)
}

/// Runs the client handshake on `base` within `timeout`, verifying
/// `server_name`.
pub(crate) async fn handshake(
    connector: TlsConnector,
    server_name: &str,
    base: Base,
    timeout: Duration,
) -> Result<Transport, Error> {
    let connector = tokio_native_tls::TlsConnector::from(connector);
    let timeout = timeout.max(Duration::from_millis(1));
    match tokio::time::timeout(timeout, connector.connect(server_name, base)).await {
        Ok(Ok(stream)) => Ok(Transport::Tls(Box::new(stream))),
        Ok(Err(e)) => Err(Error::tls(e)),
        Err(_) => Err(Error::Timeout { stage: None }),
    }
}

/// Reads a PEM file of one or more certificates (for
/// [`Builder::add_root_certificate`](crate::Builder::add_root_certificate)).
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
