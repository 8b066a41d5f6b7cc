//! [`Config`]: everything a [`Client`](crate::Client) is told up front.
//!
//! Leniency is runtime configuration (`allow_*` fields), never a Cargo
//! feature: one build serves strict and lenient callers alike.

use std::time::Duration;

use crate::address::Domain;
use crate::reply::ParserConfig;

/// Which protocol the client speaks.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SMTP (RFC 5321): EHLO/HELO, one final reply per message.
    #[default]
    Smtp,
    /// LMTP (RFC 2033): LHLO, one final reply per accepted recipient.
    Lmtp,
}

/// Per-phase reply deadlines.
///
/// The defaults are the RFC 5321 §4.5.3.2 minimums. Each deadline runs from
/// the moment its command is handed to [`poll_transmit`](crate::Client::poll_transmit)
/// (or, when commands are pipelined, from the moment the reply before it
/// completed) until the *whole* reply has arrived. Partial input does not
/// extend it, so a server that drips one byte a minute cannot hold the client
/// beyond the deadline.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Waiting for the 220 greeting (RFC 5321 §4.5.3.2.1: 5 minutes).
    pub greeting: Duration,
    /// Reply to MAIL (§4.5.3.2.2: 5 minutes).
    pub mail: Duration,
    /// Reply to RCPT (§4.5.3.2.3: 5 minutes).
    pub rcpt: Duration,
    /// Reply to DATA, the 354 (§4.5.3.2.4: 2 minutes).
    pub data_init: Duration,
    /// Completion of each write of body data (§4.5.3.2.5: 3 minutes).
    ///
    /// Only the adapter can observe a write completing, so the core never
    /// arms this timer; adapters apply it to their socket writes.
    pub data_block: Duration,
    /// Reply to the final "." or the last BDAT chunk (§4.5.3.2.6: 10 minutes).
    pub data_end: Duration,
    /// Reply to any other command (EHLO, STARTTLS, AUTH, RSET, NOOP, VRFY,
    /// EXPN, HELP, QUIT, raw commands, non-final BDAT chunks). RFC 5321 names
    /// no value; 5 minutes matches MAIL and RCPT.
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        const MIN: u64 = 60;
        Self {
            greeting: Duration::from_secs(5 * MIN),
            mail: Duration::from_secs(5 * MIN),
            rcpt: Duration::from_secs(5 * MIN),
            data_init: Duration::from_secs(2 * MIN),
            data_block: Duration::from_secs(3 * MIN),
            data_end: Duration::from_secs(10 * MIN),
            command: Duration::from_secs(5 * MIN),
        }
    }
}

impl Timeouts {
    /// The RFC 5321 §4.5.3.2 minimums (the [`Default`]): for MTAs, relays
    /// and queue runners, which must wait as long as the RFC says.
    pub fn rfc5321() -> Self {
        Self::default()
    }

    /// For applications submitting mail, the client options' default: a
    /// wrong port, a dead server or a silent one fails within a minute
    /// (greeting 30 s; every other reply and each body write 60 s) instead
    /// of after five. The reply to the end of data keeps RFC 5321's
    /// 10 minutes: the server may be delivering, and giving up early only
    /// turns a delivery into an unknown outcome.
    pub fn submission() -> Self {
        const MIN: u64 = 60;
        Self {
            greeting: Duration::from_secs(30),
            mail: Duration::from_secs(MIN),
            rcpt: Duration::from_secs(MIN),
            data_init: Duration::from_secs(MIN),
            data_block: Duration::from_secs(MIN),
            data_end: Duration::from_secs(10 * MIN),
            command: Duration::from_secs(MIN),
        }
    }

    /// Every deadline set to `d`: handy for tests and for interactive tools
    /// that prefer one `--timeout`.
    pub fn uniform(d: Duration) -> Self {
        Self {
            greeting: d,
            mail: d,
            rcpt: d,
            data_init: d,
            data_block: d,
            data_end: d,
            command: d,
        }
    }
}

/// Configuration of a [`Client`](crate::Client).
///
/// Build it with `Config::default()` (or [`Config::lmtp`]) and the `with_*`
/// methods, or set the public fields.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// SMTP or LMTP.
    pub dialect: Dialect,
    /// The name sent in EHLO/HELO/LHLO. The core cannot look up the host
    /// name; adapters fill in the FQDN as smtplib does. Default `localhost`.
    pub client_domain: Domain,
    /// Reply deadlines.
    pub timeouts: Timeouts,
    /// Reply framing limits and `allow_bare_lf`.
    pub parser: ParserConfig,
    /// Send EHLO/LHLO by itself after the 220 greeting and after the TLS
    /// handshake. Default on: every caller needs it, and after STARTTLS the
    /// fresh EHLO is a security rule (RFC 3207 §4.2), not a choice.
    pub auto_ehlo: bool,
    /// Pipeline commands when the server advertises PIPELINING (RFC 2920).
    /// Default on.
    pub pipelining: bool,
    /// Send message bodies with BDAT when the server advertises CHUNKING
    /// (RFC 3030). Default on.
    pub chunking: bool,
    /// Ask for per-recipient replies after the end of data (PRDR,
    /// draft-hall-prdr-00) when the server offers PRDR and a message has
    /// more than one recipient. Default on: a recipient the server refuses
    /// after reading the message (a mailbox over quota, a per-user content
    /// rule) is then reported as refused while the others are delivered,
    /// instead of the whole message being refused or bounced later.
    pub prdr: bool,
    /// Largest BDAT chunk the client cuts from a streamed body. Default 256 KiB.
    pub bdat_chunk_size: usize,
    /// Permit mechanisms that reveal the password or token (PLAIN, LOGIN,
    /// XOAUTH2, OAUTHBEARER) on a connection without TLS. Default off; the
    /// server's advertisement never widens this policy.
    pub allow_plaintext_auth: bool,
    /// Permit `auth` with a mechanism the server did not advertise (or when it
    /// advertised no AUTH at all). Default off.
    pub allow_unadvertised_auth: bool,
    /// The longest one mail transaction may take, from its MAIL going on
    /// the wire to its last reply, body included. `None` (the default):
    /// only the per-reply [`timeouts`](Self::timeouts) apply. When it
    /// passes the session fails with
    /// [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded); after
    /// the end of data the outcome is unknown, as with any timeout.
    pub transaction_deadline: Option<Duration>,
    /// Largest number of 334 challenges answered in one AUTH exchange before
    /// the client cancels it with `*` (smtplib stops after 5).
    pub max_auth_rounds: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            dialect: Dialect::Smtp,
            client_domain: Domain::localhost(),
            timeouts: Timeouts::default(),
            parser: ParserConfig::default(),
            auto_ehlo: true,
            pipelining: true,
            chunking: true,
            prdr: true,
            bdat_chunk_size: 256 * 1024,
            allow_plaintext_auth: false,
            allow_unadvertised_auth: false,
            max_auth_rounds: 5,
            transaction_deadline: None,
        }
    }
}

impl Config {
    /// The default configuration for LMTP (RFC 2033).
    pub fn lmtp() -> Self {
        Self {
            dialect: Dialect::Lmtp,
            ..Self::default()
        }
    }

    /// Sets [`Config::client_domain`].
    #[must_use]
    pub fn with_client_domain(mut self, domain: Domain) -> Self {
        self.client_domain = domain;
        self
    }

    /// Sets [`Config::timeouts`].
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Sets [`Config::parser`].
    #[must_use]
    pub fn with_parser(mut self, parser: ParserConfig) -> Self {
        self.parser = parser;
        self
    }

    /// Sets [`Config::auto_ehlo`].
    #[must_use]
    pub fn with_auto_ehlo(mut self, on: bool) -> Self {
        self.auto_ehlo = on;
        self
    }

    /// Sets [`Config::pipelining`].
    #[must_use]
    pub fn with_pipelining(mut self, on: bool) -> Self {
        self.pipelining = on;
        self
    }

    /// Sets [`Config::chunking`].
    #[must_use]
    pub fn with_chunking(mut self, on: bool) -> Self {
        self.chunking = on;
        self
    }

    /// Sets [`Config::prdr`].
    #[must_use]
    pub fn with_prdr(mut self, on: bool) -> Self {
        self.prdr = on;
        self
    }

    /// Sets [`Config::bdat_chunk_size`] (at least 1).
    #[must_use]
    pub fn with_bdat_chunk_size(mut self, size: usize) -> Self {
        self.bdat_chunk_size = size.max(1);
        self
    }

    /// Sets [`Config::allow_plaintext_auth`].
    #[must_use]
    pub fn with_allow_plaintext_auth(mut self, on: bool) -> Self {
        self.allow_plaintext_auth = on;
        self
    }

    /// Sets [`Config::allow_unadvertised_auth`].
    #[must_use]
    pub fn with_allow_unadvertised_auth(mut self, on: bool) -> Self {
        self.allow_unadvertised_auth = on;
        self
    }

    /// Sets [`Config::transaction_deadline`].
    #[must_use]
    pub fn with_transaction_deadline(mut self, limit: Option<Duration>) -> Self {
        self.transaction_deadline = limit;
        self
    }

    /// Sets [`Config::max_auth_rounds`].
    #[must_use]
    pub fn with_max_auth_rounds(mut self, rounds: u32) -> Self {
        self.max_auth_rounds = rounds;
        self
    }
}
