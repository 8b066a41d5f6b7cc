//! [`Builder`]: smtplib's constructor arguments (`local_hostname`,
//! `timeout`, `source_address`, `context`) plus what smtplib lacks (TLS
//! policy, TLS server name, engine configuration). The same builder as
//! `smtp-blocking`'s; only `connect*` are `async`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use native_tls::{Certificate, TlsConnector};
use smtp_proto::smtplib::{Target, parse_target};
use smtp_proto::{Client, Config, Dialect, Domain, Timeouts};

use crate::client::SmtpClient;
use crate::debug;
use crate::driver::{Driver, now};
use crate::tls::{TlsPolicy, TlsSettings};
use crate::transport::{self, Base, Stream, Transport};
use crate::{Error, LMTP_PORT, SMTP_PORT, SMTP_SSL_PORT};

/// Default bound on establishing the TCP connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Connection options. Cheap to clone (the [`Pool`](crate::Pool) clones it
/// for every connection it opens).
///
/// ```no_run
/// use smtp_tokio::{Builder, TlsPolicy};
/// # async fn f() -> Result<(), smtp_tokio::Error> {
/// let mut smtp = Builder::new()
///     .starttls(TlsPolicy::Required)
///     .timeout(std::time::Duration::from_secs(30))
///     .connect("mail.example.org:587")
///     .await?;
/// smtp.login("user", "password").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Builder {
    pub(crate) config: Config,
    implicit_tls: bool,
    policy: TlsPolicy,
    local_hostname: Option<Domain>,
    connect_timeout: Duration,
    source_address: Option<SocketAddr>,
    tls: TlsSettings,
    debuglevel: u8,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// SMTP on port 25, no TLS unless asked, RFC 5321 deadlines.
    pub fn new() -> Self {
        Self {
            config: Config::default(),
            implicit_tls: false,
            policy: TlsPolicy::Disabled,
            local_hostname: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            source_address: None,
            tls: TlsSettings::default(),
            debuglevel: 0,
        }
    }

    /// Speak LMTP (smtplib's `LMTP`): LHLO, default port 2003, a host
    /// starting with `/` is a Unix socket, one final reply per recipient.
    pub fn lmtp(mut self) -> Self {
        self.config.dialect = Dialect::Lmtp;
        self
    }

    /// TLS from the first byte (smtplib's `SMTP_SSL`), default port 465.
    pub fn implicit_tls(mut self) -> Self {
        self.implicit_tls = true;
        self
    }

    /// STARTTLS right after connecting, under `policy`; see [`TlsPolicy`].
    /// Also decides what a failed explicit [`SmtpClient::starttls`] does.
    pub fn starttls(mut self, policy: TlsPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The name sent with EHLO/HELO/LHLO (smtplib's `local_hostname`).
    /// Default: the host name if it has a dot, else `[local IP]`.
    pub fn local_hostname(mut self, name: Domain) -> Self {
        self.local_hostname = Some(name);
        self
    }

    /// smtplib's `timeout`: bounds the connection attempt and every reply
    /// and write.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.config.timeouts = Timeouts::uniform(timeout);
        self
    }

    /// Bounds only the connection attempt (default 60 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Per-phase reply deadlines (default: the RFC 5321 §4.5.3.2 values);
    /// `data_block` bounds every write that makes no progress.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.config.timeouts = timeouts;
        self
    }

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

    /// Permits PLAIN and LOGIN without TLS (off by default; the server's
    /// advertisement never turns it on).
    pub fn allow_plaintext_auth(mut self, allow: bool) -> Self {
        self.config.allow_plaintext_auth = allow;
        self
    }

    /// Pipelines commands when the server offers PIPELINING (default on).
    pub fn pipelining(mut self, on: bool) -> Self {
        self.config.pipelining = on;
        self
    }

    /// Sends bodies with BDAT when the server offers CHUNKING (default on).
    pub fn chunking(mut self, on: bool) -> Self {
        self.config.chunking = on;
        self
    }

    /// The whole engine configuration. Its `dialect` and `client_domain`
    /// are overridden by [`lmtp`](Self::lmtp) and the local host name.
    pub fn config(mut self, config: Config) -> Self {
        let dialect = self.config.dialect;
        self.config = config;
        if dialect == Dialect::Lmtp {
            self.config.dialect = dialect;
        }
        self
    }

    /// Starts with a wire trace on stderr (see
    /// [`SmtpClient::set_debuglevel`]), so the greeting is traced too.
    pub fn debuglevel(mut self, level: u8) -> Self {
        self.debuglevel = level;
        self
    }

    fn default_port(&self) -> u16 {
        if self.config.dialect == Dialect::Lmtp {
            LMTP_PORT
        } else if self.implicit_tls {
            SMTP_SSL_PORT
        } else {
            SMTP_PORT
        }
    }

    /// Connects to `host`, which may end in `:port` (smtplib's parsing;
    /// `[v6addr]:port` too) or, for LMTP, be a Unix socket path starting
    /// with `/`; waits for the greeting and the EHLO/LHLO reply; then runs
    /// STARTTLS as the policy says. Cancellation-safe: dropping the future
    /// drops the half-made connection.
    ///
    /// # Errors
    /// [`Error::ConnectError`] for a refused greeting, [`Error::Io`],
    /// [`Error::Tls`], [`Error::Timeout`], [`Error::TlsRequired`], ...
    pub async fn connect(&self, host: &str) -> Result<SmtpClient, Error> {
        self.connect_target(host, None).await
    }

    /// Connects to `host` on `port` (no `:port` parsing).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_port(&self, host: &str, port: u16) -> Result<SmtpClient, Error> {
        self.connect_target(host, Some(port)).await
    }

    /// Runs the session over a stream the caller connected. Set
    /// [`tls_server_name`](Self::tls_server_name) for STARTTLS or implicit
    /// TLS (default `localhost`).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_stream<S: Stream + 'static>(
        &self,
        stream: S,
    ) -> Result<SmtpClient, Error> {
        self.start(Base::Custom(Box::new(stream)), "localhost")
            .await
    }

    async fn connect_target(&self, host: &str, port: Option<u16>) -> Result<SmtpClient, Error> {
        let lmtp = self.config.dialect == Dialect::Lmtp;
        match parse_target(host, port, self.default_port(), lmtp)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?
        {
            Target::Unix(path) => {
                let base = transport::connect_unix(&path, self.connect_timeout).await?;
                self.start(base, "localhost").await
            }
            Target::Tcp { host, port } => {
                let tcp =
                    transport::connect_tcp(&host, port, self.source_address, self.connect_timeout)
                        .await?;
                self.start(Base::Tcp(tcp), &host).await
            }
        }
    }

    async fn start(&self, base: Base, host: &str) -> Result<SmtpClient, Error> {
        let local = self
            .local_hostname
            .clone()
            .unwrap_or_else(|| transport::default_local_hostname(base.local_ip()));
        let mut config = self.config.clone();
        config.client_domain = local;
        config.auto_ehlo = true;
        let server_name = self
            .tls
            .server_name
            .clone()
            .unwrap_or_else(|| host.to_owned());
        let mut trace = debug::stderr(self.debuglevel);
        let transport = if self.implicit_tls {
            trace.note(
                &format!("TLS handshake, verifying {server_name:?}"),
                SystemTime::now(),
            );
            let connector = self.tls.connector()?;
            crate::tls::handshake(connector, &server_name, base, config.timeouts.greeting).await?
        } else {
            Transport::Plain(base)
        };
        let mut client = Client::new(config, now());
        client.set_tls(self.implicit_tls);
        let driver = Driver::new(
            client,
            transport,
            Some((self.tls.clone(), server_name)),
            trace,
        );
        SmtpClient::start(driver, self.policy).await
    }
}
