//! TLS: the handshake on a blocking socket. The connector and the
//! certificate checks come from `smtp-native-tls`, shared with smtp-tokio.

use std::time::Duration;

use native_tls::HandshakeError;

use crate::transport::{Base, Transport};
use smtp_proto::session::Error;

pub(crate) use smtp_native_tls::Plan;

/// Runs the client handshake on `base` within `timeout`, verifying the
/// plan's name.
pub(crate) fn handshake(plan: &Plan, base: Base, timeout: Duration) -> Result<Transport, Error> {
    let connector = plan.connector()?;
    let timeout = Some(timeout.max(Duration::from_millis(1)));
    base.set_read_timeout(timeout)?;
    base.set_write_timeout(timeout)?;
    match connector.connect(&plan.name, base) {
        Ok(stream) => Ok(Transport::Tls(Box::new(stream))),
        Err(HandshakeError::Failure(e)) => Err(Error::tls(e)),
        // A socket timeout mid-handshake surfaces as WouldBlock.
        Err(HandshakeError::WouldBlock(_)) => Err(Error::Timeout { stage: None }),
    }
}
