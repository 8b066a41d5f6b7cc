//! Sockets: TCP (smtplib's `host:port` parsing, `source_address`,
//! TCP_NODELAY), Unix sockets for LMTP, caller-supplied streams, and the
//! TLS layer on top of any of them.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

/// A caller-supplied byte stream (smtplib lets subclasses override
/// `_get_socket`; here any `AsyncRead + AsyncWrite + Unpin + Send` will do:
/// a SOCKS tunnel, an in-memory duplex for tests, a stream with its own
/// buffering). Implemented for every such type.
///
/// Deadlines are the session's own (`tokio::time`), so the stream needs no
/// timeout support. A stream that buffers writes must flush them in
/// `poll_flush`: the driver flushes after every batch of commands.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The raw connection under TLS.
pub(crate) enum Base {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    Custom(Box<dyn Stream>),
}

impl fmt::Debug for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base::Tcp(s) => f.debug_tuple("Tcp").field(s).finish(),
            #[cfg(unix)]
            Base::Unix(s) => f.debug_tuple("Unix").field(s).finish(),
            Base::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl Base {
    /// The local IP address, for the `[ip]` EHLO name.
    pub(crate) fn local_ip(&self) -> Option<IpAddr> {
        match self {
            Base::Tcp(s) => s.local_addr().ok().map(|a| a.ip()),
            _ => None,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Base::Tcp($s) => $e,
            #[cfg(unix)]
            Base::Unix($s) => $e,
            Base::Custom($s) => $e,
        }
    };
}

impl AsyncRead for Base {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Base {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

impl Base {
    /// Whether nothing waits to be read and the peer has not closed, as a
    /// look that neither waits nor takes anything (a peek with a waker that
    /// does nothing); `None` when this kind of stream cannot be looked at
    /// (Unix sockets, the caller's streams).
    pub(crate) fn quiet(&self) -> Option<bool> {
        let Base::Tcp(s) = self else {
            return None;
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        match s.poll_peek(&mut cx, &mut buf) {
            Poll::Pending => Some(true),
            // Input, the end of file or an error: not quiet.
            Poll::Ready(_) => Some(false),
        }
    }
}

/// The connection as the driver sees it: plaintext or TLS.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(Base),
    Tls(Box<dyn crate::tls::TlsStream>),
}

impl Transport {
    /// The connection under TLS, or the plaintext one.
    fn base(&self) -> &Base {
        match self {
            Transport::Plain(b) => b,
            Transport::Tls(t) => t.base(),
        }
    }

    /// See [`Base::quiet`]. Under TLS the raw socket is looked at: a
    /// record waiting there (even one that is no application data, such
    /// as a TLS 1.3 session ticket) counts as input.
    pub(crate) fn quiet(&self) -> Option<bool> {
        self.base().quiet()
    }

    /// The `tls-server-end-point` channel binding data (RFC 5929 §4.1) of
    /// a TLS connection, for SCRAM-SHA-256-PLUS; `None` without TLS or when
    /// the TLS library cannot compute it (then -PLUS is not offered).
    pub(crate) fn channel_binding(&self) -> Option<Vec<u8>> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(t) => t.channel_binding(),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(b) => Pin::new(b).poll_read(cx, buf),
            Transport::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(b) => Pin::new(b).poll_write(cx, buf),
            Transport::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(b) => Pin::new(b).poll_flush(cx),
            Transport::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(b) => Pin::new(b).poll_shutdown(cx),
            Transport::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Opens a TCP connection to the first address of `host:port` that
/// answers within `timeout`, binding `source` first when given, and sets
/// TCP_NODELAY: SMTP commands are small writes that Nagle's algorithm
/// would hold back waiting for an ACK.
pub(crate) async fn connect_tcp(
    host: &str,
    port: u16,
    source: Option<SocketAddr>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    // A huge timeout (Duration::MAX) means "no bound", never a panic.
    let now = tokio::time::Instant::now();
    let deadline = now
        .checked_add(timeout.max(Duration::from_millis(1)))
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now);
    let addrs = tokio::time::timeout_at(deadline, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "name lookup timed out"))??;
    let mut last = None;
    for addr in addrs {
        if source.is_some_and(|s| s.is_ipv4() != addr.is_ipv4()) {
            continue;
        }
        match tokio::time::timeout_at(deadline, connect_one(addr, source)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = Some(e),
            Err(_) => {
                last = Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {addr} timed out"),
                ));
                break;
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no usable address for {host}:{port}"),
        )
    }))
}

async fn connect_one(addr: SocketAddr, source: Option<SocketAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(src) = source {
        socket.bind(src)?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A stream the caller connected.
pub(crate) fn custom<S: Stream + 'static>(stream: S) -> io::Result<Base> {
    Ok(Base::Custom(Box::new(stream)))
}

/// Opens a Unix socket (LMTP), within `timeout`.
#[cfg(unix)]
pub(crate) async fn connect_unix(path: &str, timeout: Duration) -> io::Result<Base> {
    let timeout = timeout.max(Duration::from_millis(1));
    match tokio::time::timeout(timeout, tokio::net::UnixStream::connect(path)).await {
        Ok(r) => r.map(Base::Unix),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connecting to {path} timed out"),
        )),
    }
}

/// Unix sockets do not exist here.
#[cfg(not(unix))]
pub(crate) async fn connect_unix(path: &str, _timeout: Duration) -> io::Result<Base> {
    Err(smtp_proto::smtplib::unix_sockets_unsupported(path))
}

/// The machine's host name, for smtplib's default `local_hostname`.
pub(crate) fn host_name() -> Option<String> {
    gethostname::gethostname().into_string().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hostname_is_a_valid_domain() {
        let local = Some(IpAddr::from([127, 0, 0, 1]));
        let d = smtp_proto::smtplib::local_hostname(host_name().as_deref(), local);
        assert!(d.as_str().contains('.') || d.is_address_literal(), "{d}");
    }
}
