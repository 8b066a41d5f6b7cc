//! [`Builder`]: smtplib's constructor arguments (and `SMTP_SSL`'s and
//! `LMTP`'s) as a builder, and the connection sequence: socket, optional
//! implicit TLS, greeting, EHLO, STARTTLS by policy.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use native_tls::{Certificate, TlsConnector};
use smtp_proto::session::{Error, Options, Session};
use smtp_proto::smtplib::{Target, parse_target};

use crate::client::SmtpClient;
use crate::debug;
use crate::driver::{Driver, Feed};
use crate::tls::TlsSettings;
use crate::transport::{self, Base, Stream, Transport};

/// Connection options: smtplib's constructor arguments (`local_hostname`,
/// `timeout`, `source_address`, `context`) plus what smtplib lacks (TLS
/// policy, TLS server name, engine configuration). The settings every
/// adapter shares are [`Options`]; this builder adds the socket and the
/// native-tls connector.
///
/// ```no_run
/// use smtp_blocking::{Builder, TlsPolicy};
/// # fn main() -> Result<(), smtp_blocking::Error> {
/// let mut smtp = Builder::new()
///     .starttls(TlsPolicy::Required)
///     .timeout(std::time::Duration::from_secs(30))
///     .connect("mail.example.org:587")?;
/// smtp.login("user", "password")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Builder {
    options: Options,
    source_address: Option<SocketAddr>,
    tls: TlsSettings,
}

impl Builder {
    /// SMTP on port 25, no TLS unless asked, RFC 5321 deadlines.
    pub fn new() -> Self {
        Self::default()
    }

    smtp_proto::option_setters!(options);

    /// Binds the local end before connecting (smtplib's `source_address`).
    pub fn source_address(mut self, addr: SocketAddr) -> Self {
        self.source_address = Some(addr);
        self
    }

    /// Uses this TLS connector as is (smtplib's `context`); the other TLS
    /// options are then ignored, except the server name.
    pub fn tls_connector(mut self, connector: TlsConnector) -> Self {
        self.tls.connector = Some(connector);
        self
    }

    /// The name the server certificate must carry, when it differs from
    /// the host connected to (an IP address, an alias, a tunnel).
    pub fn tls_server_name(mut self, name: &str) -> Self {
        self.tls.server_name = Some(name.to_owned());
        self
    }

    /// Trusts `cert` as a root in addition to the system's.
    pub fn add_root_certificate(mut self, cert: Certificate) -> Self {
        self.tls.extra_roots.push(cert);
        self
    }

    /// **Dangerous**: accepts any certificate, so anyone on the path can
    /// read and change the session. For tests against throwaway servers.
    pub fn dangerous_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.danger_accept_invalid_certs = accept;
        self
    }

    /// **Dangerous**: accepts a valid certificate issued to another name.
    pub fn dangerous_accept_invalid_hostnames(mut self, accept: bool) -> Self {
        self.tls.danger_accept_invalid_hostnames = accept;
        self
    }

    /// Connects to `host`, which may end in `:port` (smtplib's parsing;
    /// `[v6addr]:port` too) or, for LMTP, be a Unix socket path starting
    /// with `/`; waits for the greeting and the EHLO/LHLO reply; then runs
    /// STARTTLS as the policy says.
    ///
    /// # Errors
    /// [`Error::ConnectError`] for a refused greeting, [`Error::Io`],
    /// [`Error::Tls`], [`Error::Timeout`], [`Error::TlsRequired`], ...
    pub fn connect(&self, host: &str) -> Result<SmtpClient, Error> {
        self.connect_target(host, None)
    }

    /// Connects to `host` on `port` (no `:port` parsing).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_port(&self, host: &str, port: u16) -> Result<SmtpClient, Error> {
        self.connect_target(host, Some(port))
    }

    /// Runs the session over a stream the caller connected (TCP_NODELAY is
    /// turned on through [`Stream::set_nodelay`]). Set
    /// [`tls_server_name`](Self::tls_server_name) for STARTTLS or implicit
    /// TLS (default `localhost`).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_stream<S: Stream + 'static>(&self, stream: S) -> Result<SmtpClient, Error> {
        stream.set_nodelay()?;
        self.start(Base::Custom(Box::new(stream)), "localhost")
    }

    fn connect_target(&self, host: &str, port: Option<u16>) -> Result<SmtpClient, Error> {
        let o = &self.options;
        match parse_target(host, port, o.default_port(), o.is_lmtp())
            .map_err(|e| Error::InvalidArgument(e.to_string()))?
        {
            Target::Unix(path) => {
                let base = transport::connect_unix(&path)?;
                self.start(base, "localhost")
            }
            Target::Tcp { host, port } => {
                let tcp =
                    transport::connect_tcp(&host, port, self.source_address, o.connect_timeout)?;
                self.start(Base::Tcp(tcp), &host)
            }
        }
    }

    fn start(&self, base: Base, host: &str) -> Result<SmtpClient, Error> {
        let o = &self.options;
        let local = o
            .local_hostname
            .clone()
            .unwrap_or_else(|| transport::default_local_hostname(base.local_ip()));
        let server_name = self
            .tls
            .server_name
            .clone()
            .unwrap_or_else(|| host.to_owned());
        let mut trace = debug::stderr(o.debuglevel);
        let transport = if o.implicit_tls {
            trace.note(
                &format!("TLS handshake, verifying {server_name:?}"),
                SystemTime::now(),
            );
            let connector = self.tls.connector()?;
            let greeting = o.config.timeouts.greeting;
            crate::tls::handshake(&connector, &server_name, base, greeting)?
        } else {
            Transport::Plain(base)
        };
        let session = Session::connect(o, local, o.implicit_tls, Instant::now());
        let tls = Some((self.tls.clone(), server_name));
        let mut driver = Driver::new(session, transport, tls, trace)?;
        driver.run::<(), _>(<Feed<'_>>::none())?;
        Ok(SmtpClient { driver })
    }
}
