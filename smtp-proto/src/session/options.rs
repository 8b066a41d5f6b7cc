//! [`Options`]: the client settings every adapter shares (TLS policy,
//! dialect, deadlines, local name, the plaintext-AUTH rule, pipelining and
//! chunking switches, the trace level), and [`TlsPolicy`].
//!
//! Settings that only a transport can apply (the TLS connector, the source
//! address, socket options) stay in each adapter's builder. The adapters'
//! builders get their shared setters from [`option_setters!`](crate::option_setters),
//! so each setter and its documentation exist once.

use std::time::Duration;

use crate::address::Domain;
use crate::config::{Config, Dialect, Timeouts};
use crate::smtplib::Target;

/// smtplib's `SMTP_PORT`.
pub const SMTP_PORT: u16 = 25;
/// smtplib's `SMTP_SSL_PORT` (implicit TLS, RFC 8314).
pub const SMTP_SSL_PORT: u16 = 465;
/// smtplib's `LMTP_PORT`.
pub const LMTP_PORT: u16 = 2003;

/// Default bound on establishing the TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// What to do about STARTTLS on a plaintext connection.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TlsPolicy {
    #[default]
    /// STARTTLS must succeed (the default). When it is not offered or is
    /// refused, QUIT is
    /// sent and the call fails with
    /// [`Error::TlsRequired`](super::Error::TlsRequired): no AUTH, no MAIL,
    /// no message byte goes over plaintext.
    Required,
    /// STARTTLS when offered; when it is not offered or is refused, carry on
    /// in plaintext (password mechanisms stay refused without TLS unless
    /// allowed). A failed handshake still fails: the connection is gone.
    Opportunistic,
    /// Never STARTTLS on its own (smtplib's behaviour: call `starttls()`
    /// yourself). Chosen by a builder's `insecure_plaintext()`.
    Disabled,
}

/// Certificate checking, whatever the TLS library: the name to verify and
/// the two switches that turn checks off (named for what they are).
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// The name the server certificate must carry, when it differs from
    /// the host connected to; `None` verifies the host name.
    pub server_name: Option<String>,
    /// **Dangerous**: accept any certificate.
    pub accept_invalid_certs: bool,
    /// **Dangerous**: accept a valid certificate issued to another name.
    pub accept_invalid_hostnames: bool,
}

/// A TLS library an adapter can be built with (its Cargo features say
/// which). Named here, where no TLS library is linked, so that the choice is
/// one of the builder's settings whatever the features: a backend that was
/// not compiled in fails at connect time with a typed
/// [`Error::Tls`](super::Error::Tls).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsBackend {
    /// The platform's TLS library through the `native-tls` crate (OpenSSL
    /// on Linux, Secure Transport on Apple systems, SChannel on Windows).
    NativeTls,
    /// `rustls`, with the `ring` crypto provider.
    Rustls,
}

/// The TLS library's own objects an adapter's builder holds: a ready
/// connector given by the caller (smtplib's `context`), used as is, extra
/// root certificates, and the backend asked for. Generic, so this crate
/// links no TLS library.
#[derive(Clone)]
pub struct TlsSetup<C, R> {
    /// The caller's connector, used as is when given.
    pub connector: Option<C>,
    /// Roots trusted in addition to the backend's own.
    pub roots: Vec<R>,
    /// The backend asked for; `None` leaves the choice to the adapter's
    /// rule (its crate docs say it).
    pub backend: Option<TlsBackend>,
}

impl<C, R> Default for TlsSetup<C, R> {
    fn default() -> Self {
        TlsSetup {
            connector: None,
            roots: Vec::new(),
            backend: None,
        }
    }
}

impl<C, R> std::fmt::Debug for TlsSetup<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup")
            .field("custom_connector", &self.connector.is_some())
            .field("extra_roots", &self.roots.len())
            .field("backend", &self.backend)
            .finish()
    }
}

/// How far a batch (`send_many`) runs ahead of the server's replies on one
/// connection: at most `messages` messages are in flight (queued or sent,
/// not yet answered), and a further message is started only while the
/// bodies in flight total less than `bytes`. One message is always
/// admitted, whatever its size.
///
/// Deep pipelining pays off with PIPELINING and CHUNKING: then MAIL, RCPT
/// and `BDAT … LAST` with the data of later messages go out before the
/// earlier replies arrive. Without CHUNKING, DATA's 354 costs one round
/// trip per message whatever the window: only the next envelope shares a
/// write with the end of data.
///
/// The bound matters for more than memory: the server's replies to
/// everything in flight must fit its socket buffers while the client is
/// still writing, or both sides wait on each other. The default (32
/// messages, 1 MiB) keeps the unread replies in the kilobytes.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Messages in flight at most (at least 1).
    pub messages: usize,
    /// Body bytes in flight before no further message is started.
    pub bytes: u64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            messages: 32,
            bytes: 1024 * 1024,
        }
    }
}

impl Window {
    /// A window of `messages` messages (at least 1) and `bytes` body
    /// bytes.
    pub fn new(messages: usize, bytes: u64) -> Self {
        Window {
            messages: messages.max(1),
            bytes,
        }
    }

    /// One message at a time: each message's replies are in before the
    /// next one starts.
    pub fn one() -> Self {
        Window::new(1, 0)
    }
}

/// The client settings shared by every adapter.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The engine's configuration (dialect, deadlines, limits, switches).
    /// Its deadlines default to [`Timeouts::submission`] (a silent server
    /// fails within a minute); MTAs choose [`Timeouts::rfc5321`].
    /// `client_domain` is replaced by [`local_hostname`](Self::local_hostname)
    /// or the adapter's default name, and `auto_ehlo` is always on.
    pub config: Config,
    /// STARTTLS right after connecting, under this policy. `None` (the
    /// default) means [`TlsPolicy::Required`] for SMTP and
    /// [`TlsPolicy::Disabled`] for LMTP (local delivery, RFC 2033); see
    /// [`effective_tls_policy`](Self::effective_tls_policy). A policy the
    /// caller set is never changed by another setting.
    pub tls_policy: Option<TlsPolicy>,
    /// TLS from the first byte (smtplib's `SMTP_SSL`).
    pub implicit_tls: bool,
    /// The name sent with EHLO/HELO/LHLO; `None` lets the adapter use the
    /// host name (with a dot) or `[local IP]`, as smtplib does.
    pub local_hostname: Option<Domain>,
    /// Bound on establishing the connection.
    pub connect_timeout: Duration,
    /// The wire trace level (0 off, 1 lines, 2 with timestamps).
    pub debuglevel: u8,
    /// Certificate checking.
    pub tls: TlsOptions,
    /// How deep a batch pipelines across messages.
    pub window: Window,
    /// The longest one call may take, from its start to its result: the
    /// greeting and EHLO (and STARTTLS) of a connect, a login, a send, a
    /// whole batch. `None` (the default): only the per-reply timeouts and
    /// [`Config::transaction_deadline`] apply. When it passes the call
    /// fails with [`Error::DeadlineExceeded`](super::Error::DeadlineExceeded)
    /// and the connection is closed.
    pub call_deadline: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: Config::default().with_timeouts(Timeouts::submission()),
            tls_policy: None,
            implicit_tls: false,
            local_hostname: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            debuglevel: 0,
            tls: TlsOptions::default(),
            window: Window::default(),
            call_deadline: None,
        }
    }
}

impl Options {
    /// Whether the dialect is LMTP.
    pub fn is_lmtp(&self) -> bool {
        self.config.dialect == Dialect::Lmtp
    }

    /// The port used when the address names none: 2003 for LMTP, 465 for
    /// implicit TLS, else 25.
    pub fn default_port(&self) -> u16 {
        if self.is_lmtp() {
            LMTP_PORT
        } else if self.implicit_tls {
            SMTP_SSL_PORT
        } else {
            SMTP_PORT
        }
    }

    /// Sets the LMTP dialect. LMTP delivers within a site (RFC 2033 §1: not
    /// over wide-area networks, typically a Unix socket), so unless a
    /// policy was set it does not require TLS.
    pub fn set_lmtp(&mut self) {
        self.config.dialect = Dialect::Lmtp;
    }

    /// The TLS policy in force: the one set, else `Required` for SMTP and
    /// `Disabled` for LMTP.
    pub fn effective_tls_policy(&self) -> TlsPolicy {
        match self.tls_policy {
            Some(policy) => policy,
            None if self.is_lmtp() => TlsPolicy::Disabled,
            None => TlsPolicy::Required,
        }
    }

    /// smtplib's `timeout`: the connection attempt and every reply and
    /// write.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.connect_timeout = timeout;
        self.config.timeouts = Timeouts::uniform(timeout);
    }

    /// Replaces the engine configuration, keeping the LMTP dialect if it
    /// was chosen already.
    pub fn set_config(&mut self, config: Config) {
        let lmtp = self.is_lmtp();
        self.config = config;
        if lmtp {
            self.config.dialect = Dialect::Lmtp;
        }
    }

    /// Whether a connection to `port` starts with TLS: when asked, or on
    /// port 465 (RFC 8314's submissions port) unless TLS was turned off.
    pub fn implicit_tls_on(&self, port: u16) -> bool {
        self.implicit_tls
            || (port == SMTP_SSL_PORT && self.effective_tls_policy() != TlsPolicy::Disabled)
    }

    /// The name the server certificate must carry when connecting to
    /// `host`.
    pub fn tls_name(&self, host: &str) -> String {
        self.tls
            .server_name
            .clone()
            .unwrap_or_else(|| host.to_owned())
    }

    /// Where `host` (smtplib's `host[:port]`, `[v6]:port`, or for LMTP a
    /// Unix socket path starting with `/`) and `port` (which overrides any
    /// `:port`) lead.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](super::Error::InvalidArgument) for a host
    /// that cannot be parsed.
    pub fn target(&self, host: &str, port: Option<u16>) -> Result<Target, super::Error> {
        crate::smtplib::parse_target(host, port, self.default_port(), self.is_lmtp())
            .map_err(|e| super::Error::InvalidArgument(e.to_string()))
    }

    /// The engine configuration for a session whose EHLO name is `local`.
    pub fn engine_config(&self, local: Domain) -> Config {
        let mut config = self.config.clone();
        config.client_domain = local;
        config.auto_ehlo = true;
        config
    }
}

/// Generates the builder setters every adapter shares, delegating to a
/// field of type [`Options`] named by the argument. Used inside an adapter's
/// `impl Builder { .. }` so that the settings, their names and their
/// documentation are written once.
#[macro_export]
macro_rules! option_setters {
    ($field:ident) => {
        /// Speak LMTP (smtplib's `LMTP`): LHLO, default port 2003, a host
        /// starting with `/` is a Unix socket, one final reply per
        /// recipient. LMTP delivers within a site, so TLS is not required
        /// unless a policy is set ([`starttls`](Self::starttls), before or
        /// after this call).
        pub fn lmtp(mut self) -> Self {
            self.$field.set_lmtp();
            self
        }

        /// TLS from the first byte (smtplib's `SMTP_SSL`), default port 465.
        pub fn implicit_tls(mut self) -> Self {
            self.$field.implicit_tls = true;
            self
        }

        /// **Insecure**: no TLS at all, neither STARTTLS nor implicit TLS:
        /// everything, credentials included if AUTH is allowed, crosses the
        /// network readable and changeable by anyone on the path. For
        /// servers on this machine and tests. (The default requires TLS.)
        pub fn insecure_plaintext(mut self) -> Self {
            self.$field.tls_policy = Some($crate::session::TlsPolicy::Disabled);
            self.$field.implicit_tls = false;
            self
        }

        /// STARTTLS right after connecting, under `policy` (default
        /// `Required`); see
        /// [`TlsPolicy`](smtp_proto::session::TlsPolicy). Also decides what a
        /// failed explicit `starttls()`
        /// does.
        pub fn starttls(mut self, policy: $crate::session::TlsPolicy) -> Self {
            self.$field.tls_policy = Some(policy);
            self
        }

        /// The name sent with EHLO/HELO/LHLO (smtplib's `local_hostname`).
        /// Default: the host name if it has a dot, else `[local IP]`.
        pub fn local_hostname(mut self, name: $crate::Domain) -> Self {
            self.$field.local_hostname = Some(name);
            self
        }

        /// smtplib's `timeout`: bounds the connection attempt and every
        /// reply and write.
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.$field.set_timeout(timeout);
            self
        }

        /// Bounds only the connection attempt (default 60 s).
        pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.$field.connect_timeout = timeout;
            self
        }

        /// Per-phase reply deadlines (default
        /// [`Timeouts::submission`]($crate::Timeouts::submission); MTAs use
        /// [`Timeouts::rfc5321`]($crate::Timeouts::rfc5321)).
        pub fn timeouts(mut self, timeouts: $crate::Timeouts) -> Self {
            self.$field.config.timeouts = timeouts;
            self
        }

        /// Permits PLAIN and LOGIN without TLS (off by default; the
        /// server's advertisement never turns it on).
        pub fn allow_plaintext_auth(mut self, allow: bool) -> Self {
            self.$field.config.allow_plaintext_auth = allow;
            self
        }

        /// Pipelines commands when the server offers PIPELINING (default
        /// on).
        pub fn pipelining(mut self, on: bool) -> Self {
            self.$field.config.pipelining = on;
            self
        }

        /// How many messages (and body bytes) `send_many` keeps in flight
        /// on one connection (default 32 messages, 1 MiB).
        pub fn pipeline_window(mut self, window: $crate::session::Window) -> Self {
            self.$field.window = window;
            self
        }

        /// Sends bodies with BDAT when the server offers CHUNKING (default
        /// on).
        pub fn chunking(mut self, on: bool) -> Self {
            self.$field.config.chunking = on;
            self
        }

        /// The longest one call (connect, login, send, a batch) may take,
        /// however the server paces its replies; see
        /// [`Options::call_deadline`]($crate::session::Options::call_deadline).
        pub fn call_deadline(mut self, limit: ::std::time::Duration) -> Self {
            self.$field.call_deadline = Some(limit);
            self
        }

        /// The longest one mail transaction may take, from MAIL to its
        /// last reply; see
        /// [`Config::transaction_deadline`]($crate::Config::transaction_deadline).
        pub fn transaction_deadline(mut self, limit: ::std::time::Duration) -> Self {
            self.$field.config.transaction_deadline = Some(limit);
            self
        }

        /// Asks for one reply per recipient after the message (PRDR) when
        /// the server offers it and a message has several recipients
        /// (default on).
        pub fn prdr(mut self, on: bool) -> Self {
            self.$field.config.prdr = on;
            self
        }

        /// The whole engine configuration. Its `dialect` and
        /// `client_domain` are overridden by [`lmtp`](Self::lmtp) and the
        /// local host name.
        pub fn config(mut self, config: $crate::Config) -> Self {
            self.$field.set_config(config);
            self
        }

        /// Starts with a wire trace on stderr (`set_debuglevel`), so the
        /// greeting is traced too.
        pub fn debuglevel(mut self, level: u8) -> Self {
            self.$field.debuglevel = level;
            self
        }

        /// The name the server certificate must carry, when it differs
        /// from the host connected to (an IP address, an alias, a tunnel).
        pub fn tls_server_name(mut self, name: &str) -> Self {
            self.$field.tls.server_name = Some(name.to_owned());
            self
        }

        /// **Dangerous**: accepts any certificate, so anyone on the path
        /// can read and change the session. For tests against throwaway
        /// servers.
        pub fn dangerous_accept_invalid_certs(mut self, accept: bool) -> Self {
            self.$field.tls.accept_invalid_certs = accept;
            self
        }

        /// **Dangerous**: accepts a valid certificate issued to another
        /// name.
        pub fn dangerous_accept_invalid_hostnames(mut self, accept: bool) -> Self {
            self.$field.tls.accept_invalid_hostnames = accept;
            self
        }

        /// All shared settings at once.
        pub fn options(mut self, options: $crate::session::Options) -> Self {
            self.$field = options;
            self
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_required_by_default_and_implicit_on_465() {
        let o = Options::default();
        assert_eq!(o.effective_tls_policy(), TlsPolicy::Required);
        assert!(o.implicit_tls_on(SMTP_SSL_PORT));
        assert!(!o.implicit_tls_on(587));
        let plain = Options {
            tls_policy: Some(TlsPolicy::Disabled),
            ..Options::default()
        };
        assert!(
            !plain.implicit_tls_on(SMTP_SSL_PORT),
            "opting out means no TLS at all"
        );
        let mut lmtp = Options::default();
        lmtp.set_lmtp();
        assert_eq!(
            lmtp.effective_tls_policy(),
            TlsPolicy::Disabled,
            "LMTP is local delivery"
        );
        // A policy the caller set survives lmtp(), in either order.
        let mut required = Options {
            tls_policy: Some(TlsPolicy::Required),
            ..Options::default()
        };
        required.set_lmtp();
        assert_eq!(required.effective_tls_policy(), TlsPolicy::Required);
    }
}
