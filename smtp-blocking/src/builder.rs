//! [`Builder`]: smtplib's constructor arguments (and `SMTP_SSL`'s and
//! `LMTP`'s) as a builder. Its settings are [`Options`], shared by every
//! adapter, plus the socket's source address and the native-tls objects;
//! its connection methods come from [`smtp_proto::builder_methods!`].

use std::net::SocketAddr;

use native_tls::{Certificate, TlsConnector};
use smtp_proto::session::Options;

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
    tls: crate::tls::Setup,
}

impl Builder {
    /// SMTP on port 25, no TLS unless asked, RFC 5321 deadlines.
    pub fn new() -> Self {
        Self::default()
    }

    smtp_proto::option_setters!(options);

    smtp_proto::builder_methods! {
        async: [],
        await: [],
        connector: [TlsConnector],
        certificate: [Certificate],
    }
}
