//! Sockets: TCP (with smtplib's `host:port` parsing and `source_address`),
//! Unix sockets for LMTP, caller-supplied streams, and the TLS layer on top
//! of any of them.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A caller-supplied byte stream (smtplib lets subclasses override
/// `_get_socket`; here any `Read + Write` will do).
///
/// The deadlines of the session are applied through
/// [`set_read_timeout`](Stream::set_read_timeout) and
/// [`set_write_timeout`](Stream::set_write_timeout). Their default
/// implementations do nothing, which means a stalled peer blocks for as long
/// as the stream itself allows: implement them when the stream has timeouts.
pub trait Stream: Read + Write + Send + fmt::Debug {
    /// Bounds the next reads; `None` means no bound. A read that times out
    /// must fail with `WouldBlock` or `TimedOut`.
    ///
    /// # Errors
    /// Whatever the stream reports.
    fn set_read_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    /// Bounds each write; `None` means no bound.
    ///
    /// # Errors
    /// Whatever the stream reports.
    fn set_write_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    /// Turns off write coalescing delays (TCP_NODELAY) where the stream
    /// has them: SMTP commands are small writes that Nagle's algorithm
    /// would hold back for an ACK, 40 ms per round trip on Linux.
    ///
    /// # Errors
    /// Whatever the stream reports.
    fn set_nodelay(&self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for TcpStream {
    fn set_nodelay(&self) -> io::Result<()> {
        TcpStream::set_nodelay(self, true)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
}

#[cfg(unix)]
impl Stream for UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_write_timeout(self, timeout)
    }
}

/// A look at waiting input that neither waits nor takes it: one
/// `recv(MSG_PEEK | MSG_DONTWAIT)`, where the platform has those flags.
/// std names neither and `libc` is not a dependency, so the flags are the
/// platforms' ABI values (`MSG_PEEK` is 0x2 everywhere; `MSG_DONTWAIT` is
/// 0x40 on Linux and 0x80 on the BSDs).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
))]
mod nowait {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const PEEK_NOWAIT: std::ffi::c_int = 0x02 | 0x40;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const PEEK_NOWAIT: std::ffi::c_int = 0x02 | 0x80;

    /// Whether at least one byte waits; `None` if the platform cannot say.
    pub(super) fn peek(socket: socket2::SockRef<'_>) -> Option<bool> {
        let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
        Some(matches!(socket.recv_with_flags(&mut byte, PEEK_NOWAIT), Ok(n) if n > 0))
    }
}

/// Without `MSG_DONTWAIT` the socket cannot be looked at this way.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
mod nowait {
    pub(super) fn peek(_socket: socket2::SockRef<'_>) -> Option<bool> {
        None
    }
}

/// What [`Base::input_waiting`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Nothing to read now (or the end of file, or an error: the next
    /// read or write reports those).
    No,
    /// At least one byte.
    Yes,
    /// This stream cannot be asked (a caller-supplied one, or a platform
    /// without `MSG_DONTWAIT`).
    Unknown,
}

/// The raw connection under TLS.
#[derive(Debug)]
pub(crate) enum Base {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    Custom(Box<dyn Stream>),
}

impl Base {
    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Base::Tcp(s) => s.set_read_timeout(t),
            #[cfg(unix)]
            Base::Unix(s) => s.set_read_timeout(t),
            Base::Custom(s) => s.set_read_timeout(t),
        }
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Base::Tcp(s) => s.set_write_timeout(t),
            #[cfg(unix)]
            Base::Unix(s) => s.set_write_timeout(t),
            Base::Custom(s) => s.set_write_timeout(t),
        }
    }

    /// Switches the socket between blocking and non-blocking reads, for
    /// the driver's look at input that is already there. Caller-supplied
    /// streams cannot do this and say so.
    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Base::Tcp(s) => s.set_nonblocking(on),
            #[cfg(unix)]
            Base::Unix(s) => s.set_nonblocking(on),
            Base::Custom(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Whether input is waiting on the socket, found out without waiting
    /// and without taking it (see [`nowait`]). Switching the socket to
    /// non-blocking and back instead costs two more system calls on every
    /// look, and the driver looks before each operation. A socket at its
    /// end of file, or failing, counts as nothing waiting: the next read or
    /// write meets it.
    pub(crate) fn input_waiting(&self) -> Waiting {
        let socket = match self {
            Base::Tcp(s) => socket2::SockRef::from(s),
            #[cfg(unix)]
            Base::Unix(s) => socket2::SockRef::from(s),
            Base::Custom(_) => return Waiting::Unknown,
        };
        match nowait::peek(socket) {
            Some(true) => Waiting::Yes,
            Some(false) => Waiting::No,
            None => Waiting::Unknown,
        }
    }

    fn shutdown(&self) {
        // Best effort: the peer learns at once that we are gone.
        let _ = match self {
            Base::Tcp(s) => s.shutdown(Shutdown::Both),
            #[cfg(unix)]
            Base::Unix(s) => s.shutdown(Shutdown::Both),
            Base::Custom(_) => Ok(()),
        };
    }

    /// The local IP address, for the `[ip]` EHLO name.
    pub(crate) fn local_ip(&self) -> Option<IpAddr> {
        match self {
            Base::Tcp(s) => s.local_addr().ok().map(|a| a.ip()),
            _ => None,
        }
    }
}

impl Read for Base {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Base::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Base::Unix(s) => s.read(buf),
            Base::Custom(s) => s.read(buf),
        }
    }
}

impl Write for Base {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Base::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Base::Unix(s) => s.write(buf),
            Base::Custom(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Base::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Base::Unix(s) => s.flush(),
            Base::Custom(s) => s.flush(),
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
    pub(crate) fn base(&self) -> &Base {
        match self {
            Transport::Plain(b) => b,
            Transport::Tls(t) => t.base(),
        }
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

    /// Whether the TLS layer already holds decrypted input, which a read
    /// returns without touching the socket.
    pub(crate) fn tls_buffered(&mut self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.buffered(),
        }
    }

    /// Closes the connection (after a TLS close_notify when possible).
    pub(crate) fn close(&mut self) {
        if let Transport::Tls(t) = self {
            t.close_notify();
        }
        self.base().shutdown();
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(b) => b.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(b) => b.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(b) => b.flush(),
            Transport::Tls(t) => t.flush(),
        }
    }
}

/// Opens a TCP connection to the first address of `host:port` that
/// answers, binding `source` first when given, with TCP_NODELAY set: SMTP
/// commands are small writes that Nagle's algorithm would hold back for an
/// ACK (40 ms per round trip on Linux).
pub(crate) fn connect_tcp(
    host: &str,
    port: u16,
    source: Option<SocketAddr>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        if let Some(src) = source
            && src.is_ipv4() != addr.is_ipv4()
        {
            continue;
        }
        match connect_one(addr, source, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no usable address for {host}:{port}"),
        )
    }))
}

fn connect_one(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    use socket2::{Domain as SockDomain, Protocol, SockAddr, Socket, Type};
    let socket = Socket::new(
        SockDomain::for_address(addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if let Some(src) = source {
        socket.bind(&SockAddr::from(src))?;
    }
    let timeout = timeout.max(Duration::from_millis(1));
    socket.connect_timeout(&SockAddr::from(addr), timeout)?;
    let stream = TcpStream::from(socket);
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A stream the caller connected, with TCP_NODELAY turned on where it has
/// it.
pub(crate) fn custom<S: Stream + 'static>(stream: S) -> io::Result<Base> {
    stream.set_nodelay()?;
    Ok(Base::Custom(Box::new(stream)))
}

/// Opens a Unix socket (LMTP).
#[cfg(unix)]
pub(crate) fn connect_unix(path: &str, _timeout: Duration) -> io::Result<Base> {
    UnixStream::connect(path).map(Base::Unix)
}

/// Unix sockets do not exist here.
#[cfg(not(unix))]
pub(crate) fn connect_unix(path: &str, _timeout: Duration) -> io::Result<Base> {
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
