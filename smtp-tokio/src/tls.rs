//! TLS: the handshake over a Tokio stream (tokio-native-tls or
//! tokio-rustls, as the plan's connector says). The connector, the
//! certificate checks and the backend rule come from `smtp-tls`, shared
//! with smtp-blocking; what is here is IO.

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
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::transport::{Base, Transport};
use smtp_proto::session::Error;
use smtp_tls::Connector;

pub(crate) use smtp_tls::Plan;

/// A TLS connection over the raw one, of either backend.
pub(crate) trait TlsStream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {
    /// The `tls-server-end-point` channel binding data (RFC 5929 §4.1),
    /// for SCRAM-SHA-256-PLUS; `None` when the TLS library cannot tell it.
    fn channel_binding(&self) -> Option<Vec<u8>>;
    /// The connection under TLS.
    fn base(&self) -> &Base;
}

/// Runs the client handshake on `base` within `timeout`, verifying the
/// plan's name.
pub(crate) async fn handshake(
    plan: &Plan,
    base: Base,
    timeout: Duration,
) -> Result<Transport, Error> {
    let connector = plan.connector()?;
    let timeout = timeout.max(Duration::from_millis(1));
    let stream = async {
        let stream: Box<dyn TlsStream> = match connector {
            #[cfg(feature = "native-tls")]
            Connector::NativeTls(c) => {
                let c = tokio_native_tls::TlsConnector::from(c);
                Box::new(c.connect(&plan.name, base).await.map_err(Error::tls)?)
            }
            #[cfg(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots"))]
            Connector::Rustls(config) => {
                let name = plan.server_name()?;
                let c = tokio_rustls::TlsConnector::from(config);
                let stream = c.connect(name, base).await.map_err(Error::tls)?;
                Box::new(rustls::Stream(stream))
            }
            // A backend smtp-tls was built with (through another crate's
            // features) but this crate's features left out.
            #[allow(unreachable_patterns)]
            other => {
                let wanted = Some(other.backend());
                return Err(Error::tls(smtp_tls::BackendUnavailable { wanted }));
            }
        };
        Ok(stream)
    };
    match tokio::time::timeout(timeout, stream).await {
        Ok(stream) => stream.map(Transport::Tls),
        Err(_) => Err(Error::Timeout { stage: None }),
    }
}

#[cfg(feature = "native-tls")]
impl TlsStream for tokio_native_tls::TlsStream<Base> {
    fn channel_binding(&self) -> Option<Vec<u8>> {
        self.get_ref().tls_server_end_point().ok().flatten()
    }

    fn base(&self) -> &Base {
        self.get_ref().get_ref().get_ref()
    }
}

#[cfg(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots"))]
mod rustls {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    use crate::transport::Base;

    /// A tokio-rustls client stream.
    #[derive(Debug)]
    pub(super) struct Stream(pub(super) tokio_rustls::client::TlsStream<Base>);

    impl super::TlsStream for Stream {
        fn channel_binding(&self) -> Option<Vec<u8>> {
            smtp_tls::rustls_end_point(self.0.get_ref().1)
        }

        fn base(&self) -> &Base {
            self.0.get_ref().0
        }
    }

    impl AsyncRead for Stream {
        /// A TCP end of file without close_notify is the end of input, as
        /// native-tls reports it: SMTP replies are self-delimiting, and the
        /// engine treats input that stops short of a reply as a disconnect.
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match Pin::new(&mut self.get_mut().0).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            }
        }
    }

    impl AsyncWrite for Stream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().0).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
        }
    }
}
