//! TLS: the STARTTLS policy, the connector (verification on unless an
//! option whose name says "dangerous" turns it off), and the handshake.

use std::io;
use std::time::Duration;

use native_tls::{Certificate, TlsConnector};

use crate::transport::{Base, Transport};
use smtp_proto::session::Error;

/// How to build the TLS layer.
#[derive(Clone, Default)]
pub(crate) struct TlsSettings {
    /// smtplib's `context`: used as is when given.
    pub(crate) connector: Option<TlsConnector>,
    /// Certificate name to verify; defaults to the connect host.
    pub(crate) server_name: Option<String>,
    pub(crate) extra_roots: Vec<Certificate>,
    pub(crate) danger_accept_invalid_certs: bool,
    pub(crate) danger_accept_invalid_hostnames: bool,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("custom_connector", &self.connector.is_some())
            .field("server_name", &self.server_name)
            .field("extra_roots", &self.extra_roots.len())
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .field(
                "danger_accept_invalid_hostnames",
                &self.danger_accept_invalid_hostnames,
            )
            .finish()
    }
}

impl TlsSettings {
    /// The caller's connector, or one built from the options: system roots
    /// plus any extra roots, verification on.
    pub(crate) fn connector(&self) -> Result<TlsConnector, Error> {
        if let Some(c) = &self.connector {
            return Ok(c.clone());
        }
        let mut b = TlsConnector::builder();
        for cert in &self.extra_roots {
            b.add_root_certificate(cert.clone());
        }
        b.danger_accept_invalid_certs(self.danger_accept_invalid_certs);
        b.danger_accept_invalid_hostnames(self.danger_accept_invalid_hostnames);
        b.build().map_err(Error::tls)
    }
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

/// Reads a PEM file of one or more certificates, for
/// [`Builder::add_root_certificate`](crate::Builder::add_root_certificate).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read or holds no certificate,
/// [`Error::Tls`] when a certificate is invalid.
pub fn load_pem_certificates(path: &std::path::Path) -> Result<Vec<Certificate>, Error> {
    let pem = std::fs::read(path)?;
    let certs = smtp_proto::pem::certificate_blocks(&String::from_utf8_lossy(&pem))
        .iter()
        .map(|block| Certificate::from_pem(block.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::tls)?;
    if certs.is_empty() {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no PEM certificate in {}", path.display()),
        )));
    }
    Ok(certs)
}
