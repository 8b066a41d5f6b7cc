//! TLS: the handshake on a blocking socket. The connector and the
//! certificate checks come from `smtp-native-tls`, shared with smtp-tokio.

use std::time::{Duration, Instant};

use native_tls::HandshakeError;

use crate::transport::{Base, Bounded, Transport};
use smtp_proto::session::Error;

pub(crate) use smtp_native_tls::Plan;

/// Runs the client handshake on `base` within `timeout` (the whole
/// handshake, however the server paces its bytes), verifying the plan's
/// name.
pub(crate) fn handshake(plan: &Plan, base: Base, timeout: Duration) -> Result<Transport, Error> {
    let connector = plan.connector()?;
    let until = Instant::now().checked_add(timeout.max(Duration::from_millis(1)));
    let bounded = Bounded { base, until };
    match connector.connect(&plan.name, bounded) {
        Ok(mut stream) => {
            stream.get_mut().until = None;
            Ok(Transport::Tls(Box::new(stream)))
        }
        // The deadline passed inside a read or a write.
        Err(HandshakeError::Failure(e)) if timed_out(&e) => Err(Error::Timeout { stage: None }),
        Err(HandshakeError::Failure(e)) => Err(Error::tls(e)),
        // A socket timeout mid-handshake surfaces as WouldBlock.
        Err(HandshakeError::WouldBlock(_)) => Err(Error::Timeout { stage: None }),
    }
}

/// Whether the TLS library failed because a read or write timed out (its
/// error keeps the I/O error as a source).
fn timed_out(e: &native_tls::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        source = err.source();
    }
    false
}
