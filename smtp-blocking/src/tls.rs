//! TLS: the handshake on a blocking socket, with whichever backend the
//! plan's connector belongs to. The connector, the certificate checks and
//! the backend rule come from `smtp-tls`, shared with smtp-tokio; what is
//! here is IO.

// Built without a backend, every handshake fails (the plan's connector
// does not exist): what it would use goes unused.
#![cfg_attr(
    not(any(
        feature = "native-tls",
        feature = "rustls-native-roots",
        feature = "rustls-webpki-roots"
    )),
    allow(unused_imports, unused_variables, unreachable_code)
)]

use std::fmt;
use std::io::{Read, Write};
use std::time::Duration;

use crate::transport::{Base, Transport};
use smtp_proto::session::Error;
use smtp_tls::Connector;

pub(crate) use smtp_tls::Plan;

/// A TLS connection over the raw one, of either backend: what the driver
/// asks of it besides reading and writing.
pub(crate) trait TlsStream: Read + Write + Send + fmt::Debug {
    /// The connection under TLS (for its timeouts and its socket).
    fn base(&self) -> &Base;
    /// The `tls-server-end-point` channel binding data (RFC 5929 §4.1),
    /// for SCRAM-SHA-256-PLUS; `None` when the TLS library cannot tell it.
    fn channel_binding(&self) -> Option<Vec<u8>>;
    /// Whether decrypted input waits, which a read returns without
    /// touching the socket.
    fn buffered(&mut self) -> bool;
    /// Sends close_notify, best effort.
    fn close_notify(&mut self);
}

/// Runs the client handshake on `base` within `timeout`, verifying the
/// plan's name.
pub(crate) fn handshake(plan: &Plan, base: Base, timeout: Duration) -> Result<Transport, Error> {
    let timeout = timeout.max(Duration::from_millis(1));
    let stream: Box<dyn TlsStream> = match plan.connector()? {
        #[cfg(feature = "native-tls")]
        Connector::NativeTls(connector) => {
            Box::new(native::handshake(&connector, &plan.name, base, timeout)?)
        }
        #[cfg(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots"))]
        Connector::Rustls(config) => Box::new(rustls::handshake(
            config,
            plan.server_name()?,
            base,
            timeout,
        )?),
        // A backend smtp-tls was built with (through another crate's
        // features) but this crate's features left out.
        #[allow(unreachable_patterns)]
        other => {
            let wanted = Some(other.backend());
            return Err(Error::tls(smtp_tls::BackendUnavailable { wanted }));
        }
    };
    Ok(Transport::Tls(stream))
}

#[cfg(feature = "native-tls")]
mod native {
    use std::io::{self, Read, Write};
    use std::time::{Duration, Instant};

    use smtp_proto::session::Error;
    use smtp_tls::native_tls::{self, HandshakeError, TlsConnector, TlsStream};

    use crate::transport::Base;

    /// The socket under a TLS layer, with the TLS handshake's deadline while
    /// it runs: a socket timeout bounds each read, not the handshake, so a
    /// server that drips its ServerHello a byte at a time would stretch a
    /// handshake bounded only per read without end. Each read and write of the
    /// handshake gets the time left; once it is spent they fail with
    /// `TimedOut`. After the handshake `until` is `None` and the driver's own
    /// timeouts apply.
    #[derive(Debug)]
    pub(super) struct Bounded {
        pub(super) base: Base,
        pub(super) until: Option<Instant>,
    }

    impl Bounded {
        /// The time left before `until`, set as the socket's timeout for the
        /// next read or write; `TimedOut` when none is left.
        fn left(&self, read: bool) -> io::Result<()> {
            let Some(until) = self.until else {
                return Ok(());
            };
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake's deadline passed",
                ));
            }
            if read {
                self.base.set_read_timeout(Some(left))
            } else {
                self.base.set_write_timeout(Some(left))
            }
        }
    }

    impl Read for Bounded {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.left(true)?;
            self.base.read(buf)
        }
    }

    impl Write for Bounded {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.left(false)?;
            self.base.write(buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            self.base.flush()
        }
    }

    /// The handshake, all of it within `timeout` however the server paces
    /// its bytes: it runs over [`Bounded`], which gives each read and write
    /// the time left.
    pub(super) fn handshake(
        connector: &TlsConnector,
        name: &str,
        base: Base,
        timeout: Duration,
    ) -> Result<TlsStream<Bounded>, Error> {
        let until = Instant::now().checked_add(timeout);
        match connector.connect(name, Bounded { base, until }) {
            Ok(mut stream) => {
                // From now on the driver's own timeouts apply.
                stream.get_mut().until = None;
                Ok(stream)
            }
            // The deadline passed inside a read or a write.
            Err(HandshakeError::Failure(e)) if timed_out(&e) => Err(Error::Timeout { stage: None }),
            Err(HandshakeError::Failure(e)) => Err(Error::tls(e)),
            // A socket timeout mid-handshake surfaces as WouldBlock.
            Err(HandshakeError::WouldBlock(_)) => Err(Error::Timeout { stage: None }),
        }
    }

    /// Whether the TLS library failed because a read or write timed out
    /// (its error keeps the I/O error as a source).
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

    impl super::TlsStream for TlsStream<Bounded> {
        fn base(&self) -> &Base {
            &self.get_ref().base
        }

        fn channel_binding(&self) -> Option<Vec<u8>> {
            self.tls_server_end_point().ok().flatten()
        }

        fn buffered(&mut self) -> bool {
            self.buffered_read_size().is_ok_and(|n| n > 0)
        }

        fn close_notify(&mut self) {
            let _ = self.shutdown();
        }
    }
}

#[cfg(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots"))]
mod rustls {
    use std::io::{self, ErrorKind, Read, Write};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use smtp_proto::session::Error;
    use smtp_tls::rustls::pki_types::ServerName;
    use smtp_tls::rustls::{ClientConfig, ClientConnection, StreamOwned};

    use crate::transport::Base;

    /// A rustls connection and its socket.
    #[derive(Debug)]
    pub(super) struct Stream(StreamOwned<ClientConnection, Base>);

    /// The handshake, all of it within `timeout`: the socket's timeouts are
    /// set to what is left before each read or write.
    pub(super) fn handshake(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        mut base: Base,
        timeout: Duration,
    ) -> Result<Stream, Error> {
        let mut conn = ClientConnection::new(config, name).map_err(Error::tls)?;
        let start = Instant::now();
        // The client's last flight (TLS 1.3's Finished) is written once the
        // handshake is over on rustls' side.
        while conn.is_handshaking() || conn.wants_write() {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(Error::Timeout { stage: None });
            }
            base.set_read_timeout(Some(left))?;
            base.set_write_timeout(Some(left))?;
            let step = if conn.wants_write() {
                conn.write_tls(&mut base).map(drop)
            } else if conn.wants_read() {
                match conn.read_tls(&mut base) {
                    Ok(0) => Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    )),
                    Ok(_) => {
                        if let Err(e) = conn.process_new_packets() {
                            // The alert that says why, best effort.
                            let _ = conn.write_tls(&mut base);
                            return Err(Error::tls(e));
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            } else {
                Err(io::Error::other("the TLS handshake stalled"))
            };
            match step {
                Ok(()) => {}
                // A socket timeout surfaces as WouldBlock (or TimedOut).
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(Error::Timeout { stage: None });
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::tls(e)),
            }
        }
        Ok(Stream(StreamOwned::new(conn, base)))
    }

    impl Read for Stream {
        /// A TCP end of file without close_notify is the end of input, as
        /// native-tls reports it: SMTP replies are self-delimiting, and the
        /// engine treats input that stops short of a reply as a disconnect.
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf) {
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            }
        }
    }

    impl Stream {
        /// Writes out every TLS record rustls holds; a socket timeout is an
        /// error (`WouldBlock`), as with native-tls.
        fn write_records(&mut self) -> io::Result<()> {
            let StreamOwned { conn, sock } = &mut self.0;
            while conn.wants_write() {
                if conn.write_tls(sock)? == 0 {
                    return Err(ErrorKind::WriteZero.into());
                }
            }
            sock.flush()
        }
    }

    /// Writing only writes. `StreamOwned`'s own write and flush go on to
    /// read when the socket will not take more, so a stalled write would
    /// wait for the read timeout as well as the write timeout; here it
    /// fails after the write timeout alone, as native-tls's does.
    impl Write for Stream {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_records()?;
            let n = self.0.conn.writer().write(buf)?;
            // `n` bytes are taken whatever happens now; a write that fails
            // here fails again on the next call or the flush.
            let _ = self.write_records();
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            self.0.conn.writer().flush()?;
            self.write_records()
        }
    }

    impl super::TlsStream for Stream {
        fn base(&self) -> &Base {
            self.0.get_ref()
        }

        fn channel_binding(&self) -> Option<Vec<u8>> {
            smtp_tls::rustls_end_point(&self.0.conn)
        }

        fn buffered(&mut self) -> bool {
            // Records already read are decrypted here, without IO; an
            // error stays for the next read to report.
            self.0
                .conn
                .process_new_packets()
                .is_ok_and(|state| state.plaintext_bytes_to_read() > 0)
        }

        fn close_notify(&mut self) {
            self.0.conn.send_close_notify();
            let _ = self.write_records();
        }
    }
}
