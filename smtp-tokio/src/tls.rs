//! TLS: the handshake over a Tokio stream (tokio-native-tls). The
//! connector and the certificate checks come from `smtp-native-tls`,
//! shared with smtp-blocking.

use std::time::Duration;

use crate::transport::{Base, Transport};
use smtp_proto::session::Error;

pub(crate) use smtp_native_tls::Plan;

/// Runs the client handshake on `base` within `timeout`, verifying the
/// plan's name.
pub(crate) async fn handshake(
    plan: &Plan,
    base: Base,
    timeout: Duration,
) -> Result<Transport, Error> {
    let connector = tokio_native_tls::TlsConnector::from(plan.connector()?);
    let timeout = timeout.max(Duration::from_millis(1));
    match tokio::time::timeout(timeout, connector.connect(&plan.name, base)).await {
        Ok(Ok(stream)) => Ok(Transport::Tls(Box::new(stream))),
        Ok(Err(e)) => Err(Error::tls(e)),
        Err(_) => Err(Error::Timeout { stage: None }),
    }
}
