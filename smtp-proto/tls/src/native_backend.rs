//! native-tls: the connector a client's settings describe.

use native_tls::{Certificate, TlsConnector};
use smtp_proto::session::{Error, TlsOptions};

/// A connector trusting the system's roots plus `roots`, with verification
/// on unless a dangerously named switch turned part of it off.
pub(crate) fn connector(roots: &[Certificate], checks: &TlsOptions) -> Result<TlsConnector, Error> {
    let mut b = TlsConnector::builder();
    for cert in roots {
        b.add_root_certificate(cert.clone());
    }
    b.danger_accept_invalid_certs(checks.accept_invalid_certs)
        .danger_accept_invalid_hostnames(checks.accept_invalid_hostnames)
        .build()
        .map_err(Error::tls)
}
