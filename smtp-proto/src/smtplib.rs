//! smtplib's reading of a finished transaction, so that every adapter
//! turns a [`TxnReport`] into the same return value or exception: the
//! classification is protocol knowledge (which reply explains a failure,
//! when LMTP's per-recipient refusals count as "all recipients refused"),
//! and adapters only wrap the result in their own error type.

use std::collections::BTreeMap;

use crate::event::{TxnOutcome, TxnReport};
use crate::reply::Reply;

/// Refused recipients: each address, as the caller wrote it, with the reply
/// that refused it (its RCPT reply, or in LMTP its own negative final
/// reply). smtplib's `sendmail` return value and
/// `SMTPRecipientsRefused.recipients`.
pub type Refused = BTreeMap<String, Reply>;

/// Why smtplib would raise for a transaction. Each variant carries what
/// the exception of the same name carries, so an adapter's conversion is a
/// one-to-one rename.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnFailure {
    /// MAIL was refused (`SMTPSenderRefused`).
    SenderRefused {
        /// The reply to MAIL.
        reply: Reply,
        /// The sender address, as the caller wrote it.
        sender: String,
    },
    /// Nobody got the message (`SMTPRecipientsRefused`): every RCPT was
    /// refused, or in LMTP every final reply was negative.
    RecipientsRefused {
        /// Each recipient with its refusal.
        recipients: Refused,
    },
    /// DATA, a BDAT chunk or the end of data was refused
    /// (`SMTPDataError`).
    DataError {
        /// The negative reply.
        reply: Reply,
    },
    /// The connection failed after the end of data and before its final
    /// reply: the message may have been delivered.
    OutcomeUnknown,
    /// The transaction ended without a reply that explains it (the
    /// session failed before the end of data, or a reply the outcome needs
    /// never arrived): smtplib's `SMTPServerDisconnected`.
    Disconnected,
}

impl TxnReport {
    /// smtplib's `sendmail` result for this transaction: the refused map
    /// when at least one recipient got the message, the exception
    /// otherwise. `recipients` holds the caller's spelling of each
    /// address, in envelope order; `lmtp` makes a message refused by every
    /// recipient's final reply a [`TxnFailure::RecipientsRefused`], since
    /// LMTP refuses per recipient. So does PRDR (the report then has a
    /// [`message_reply`](TxnReport::message_reply)), in either dialect.
    ///
    /// # Errors
    /// The [`TxnFailure`] smtplib would raise.
    pub fn smtplib_outcome(
        &self,
        sender: &str,
        recipients: &[&str],
        lmtp: bool,
    ) -> Result<Refused, TxnFailure> {
        let refused = || -> Refused {
            self.recipients
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let name = recipients
                        .get(i)
                        .map_or_else(String::new, |s| (*s).to_owned());
                    r.refusal().map(|reply| (name, reply.clone()))
                })
                .collect()
        };
        match self.outcome {
            TxnOutcome::Delivered => Ok(refused()),
            TxnOutcome::SenderRefused => match &self.mail_reply {
                Some(reply) => Err(TxnFailure::SenderRefused {
                    reply: reply.clone(),
                    sender: sender.to_owned(),
                }),
                None => Err(TxnFailure::Disconnected),
            },
            TxnOutcome::AllRecipientsRefused => Err(TxnFailure::RecipientsRefused {
                recipients: refused(),
            }),
            TxnOutcome::MessageRefused if lmtp || self.message_reply.is_some() => {
                Err(TxnFailure::RecipientsRefused {
                    recipients: refused(),
                })
            }
            TxnOutcome::DataRefused | TxnOutcome::MessageRefused => {
                let reply = self.data_reply.clone().or_else(|| {
                    self.recipients
                        .iter()
                        .find_map(|r| r.delivery_reply.clone())
                });
                match reply {
                    Some(reply) => Err(TxnFailure::DataError { reply }),
                    None => Err(TxnFailure::Disconnected),
                }
            }
            TxnOutcome::Unknown => Err(TxnFailure::OutcomeUnknown),
            TxnOutcome::Aborted => Err(TxnFailure::Disconnected),
        }
    }

    /// smtplib's `data` result for an incremental transaction: the final
    /// reply (in LMTP, the first accepted recipient's; with PRDR, the
    /// message's own), or the exception.
    /// A refused DATA or chunk is a [`TxnFailure::DataError`] even when
    /// recipients were accepted; otherwise it fails as
    /// [`smtplib_outcome`](Self::smtplib_outcome) does.
    ///
    /// # Errors
    /// The [`TxnFailure`] smtplib would raise.
    pub fn smtplib_data_reply(
        &self,
        sender: &str,
        recipients: &[&str],
        lmtp: bool,
    ) -> Result<Reply, TxnFailure> {
        if let Some(reply) = &self.data_reply {
            return Err(TxnFailure::DataError {
                reply: reply.clone(),
            });
        }
        if matches!(
            self.outcome,
            TxnOutcome::Delivered | TxnOutcome::MessageRefused
        ) && let Some(reply) = self.message_reply.clone().or_else(|| {
            self.recipients
                .iter()
                .find(|r| r.accepted())
                .and_then(|r| r.delivery_reply.clone())
        }) {
            return Ok(reply);
        }
        self.smtplib_outcome(sender, recipients, lmtp)
            .and(Err(TxnFailure::Disconnected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ForwardPath;
    use crate::event::{RcptId, RecipientReport, TxnId};
    use crate::reply::ReplyCode;

    fn reply(code: u16) -> Reply {
        Reply::new(ReplyCode::new(code).unwrap(), vec![b"x".to_vec()])
    }

    fn rcpt(i: usize, rcpt: Option<u16>, delivery: Option<u16>) -> RecipientReport {
        RecipientReport {
            rcpt: RcptId(i),
            address: ForwardPath::parse("a@x.org").unwrap(),
            rcpt_reply: rcpt.map(reply),
            delivery_reply: delivery.map(reply),
        }
    }

    fn report(outcome: TxnOutcome, recipients: Vec<RecipientReport>) -> TxnReport {
        TxnReport {
            txn: TxnId(0),
            outcome,
            mail_reply: Some(reply(250)),
            recipients,
            data_reply: None,
            message_reply: None,
        }
    }

    const TO: &[&str] = &["A@x.org", "b@x.org"];

    #[test]
    fn delivered_returns_refused_map_in_caller_spelling() {
        let r = report(
            TxnOutcome::Delivered,
            vec![rcpt(0, Some(550), None), rcpt(1, Some(250), Some(250))],
        );
        let refused = r.smtplib_outcome("s@x.org", TO, false).unwrap();
        assert_eq!(refused.get("A@x.org"), Some(&reply(550)));
        assert_eq!(refused.len(), 1);
        assert_eq!(
            r.smtplib_data_reply("s@x.org", TO, false),
            Ok(reply(250)),
            "data() returns the accepted recipient's final reply"
        );
    }

    #[test]
    fn failures_map_to_smtplib_exceptions() {
        let mut r = report(TxnOutcome::SenderRefused, vec![]);
        r.mail_reply = Some(reply(550));
        assert_eq!(
            r.smtplib_outcome("s@x.org", TO, false),
            Err(TxnFailure::SenderRefused {
                reply: reply(550),
                sender: "s@x.org".to_owned()
            })
        );
        r.mail_reply = None;
        assert_eq!(
            r.smtplib_outcome("s@x.org", TO, false),
            Err(TxnFailure::Disconnected)
        );

        let all = vec![rcpt(0, Some(250), Some(554)), rcpt(1, Some(250), Some(554))];
        let r = report(TxnOutcome::MessageRefused, all);
        assert!(matches!(
            r.smtplib_outcome("s", TO, true),
            Err(TxnFailure::RecipientsRefused { recipients }) if recipients.len() == 2
        ));
        assert_eq!(
            r.smtplib_outcome("s", TO, false),
            Err(TxnFailure::DataError { reply: reply(554) })
        );

        let mut r = report(TxnOutcome::DataRefused, vec![rcpt(0, Some(250), None)]);
        r.data_reply = Some(reply(451));
        assert_eq!(
            r.smtplib_data_reply("s", TO, false),
            Err(TxnFailure::DataError { reply: reply(451) })
        );

        let r = report(TxnOutcome::Unknown, vec![rcpt(0, Some(250), None)]);
        assert_eq!(
            r.smtplib_outcome("s", TO, false),
            Err(TxnFailure::OutcomeUnknown)
        );
        let r = report(TxnOutcome::Aborted, vec![rcpt(0, Some(250), None)]);
        assert_eq!(
            r.smtplib_data_reply("s", TO, false),
            Err(TxnFailure::Disconnected)
        );
    }
}

/// Where smtplib's `connect(host, port)` goes: a TCP host and port, or (for
/// LMTP) a Unix socket path.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A host name or address literal and a port.
    Tcp {
        /// Host name or IP address, brackets removed.
        host: String,
        /// Port.
        port: u16,
    },
    /// An absolute Unix socket path (LMTP only).
    Unix(String),
}

/// A `host[:port]` that [`parse_target`] cannot read.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The text after the last host character is not a port number.
    #[error("nonnumeric port {0:?}")]
    BadPort(String),
    /// A bracketed address followed by something other than `:port`.
    #[error("bad address {0:?}")]
    BadAddress(String),
}

/// smtplib's reading of `connect(host, port)`: an empty host is
/// `localhost`; an explicit `port` wins; otherwise `host:port` with a single
/// colon names the port, `[v6]` or `[v6]:port` brackets an IPv6 address, and
/// a bare IPv6 address (several colons) takes `default_port`. With
/// `unix_ok` (LMTP), a host starting with `/` is a Unix socket path.
///
/// # Errors
/// [`TargetError`] for a nonnumeric port or text after `[v6]`.
pub fn parse_target(
    host: &str,
    port: Option<u16>,
    default_port: u16,
    unix_ok: bool,
) -> Result<Target, TargetError> {
    let host = if host.is_empty() { "localhost" } else { host };
    if unix_ok && host.starts_with('/') {
        return Ok(Target::Unix(host.to_owned()));
    }
    let tcp = |host: &str, port: u16| Target::Tcp {
        host: host.to_owned(),
        port,
    };
    if let Some(port) = port {
        return Ok(tcp(host, port));
    }
    let parse_port = |p: &str| p.parse().map_err(|_| TargetError::BadPort(p.to_owned()));
    if let Some(inner) = host.strip_prefix('[')
        && let Some((addr, tail)) = inner.split_once(']')
    {
        return match tail.strip_prefix(':') {
            Some(p) => Ok(tcp(addr, parse_port(p)?)),
            None if tail.is_empty() => Ok(tcp(addr, default_port)),
            None => Err(TargetError::BadAddress(host.to_owned())),
        };
    }
    match host.split_once(':') {
        Some((h, p)) if !p.contains(':') => Ok(tcp(h, parse_port(p)?)),
        _ => Ok(tcp(host, default_port)),
    }
}

/// smtplib's default `local_hostname`, without a DNS lookup: the host's
/// name (as the adapter read it) when it looks fully qualified (has a dot
/// and is a valid domain), else the `[ip]` literal of the local end of the
/// connection, else `localhost`.
pub fn local_hostname(
    host_name: Option<&str>,
    local_ip: Option<std::net::IpAddr>,
) -> crate::Domain {
    if let Some(name) = host_name
        && name.contains('.')
        && let Ok(domain) = crate::Domain::parse(name)
    {
        return domain;
    }
    match local_ip {
        Some(ip) => crate::Domain::from_ip(ip),
        None => crate::Domain::localhost(),
    }
}

#[cfg(test)]
mod target_tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Target {
        Target::Tcp {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn smtplib_host_port_parsing() {
        assert_eq!(
            parse_target("mx:2525", None, 25, false),
            Ok(tcp("mx", 2525))
        );
        assert_eq!(parse_target("mx", None, 25, false), Ok(tcp("mx", 25)));
        assert_eq!(parse_target("mx:1", Some(7), 25, false), Ok(tcp("mx:1", 7)));
        assert_eq!(
            parse_target("", None, 465, false),
            Ok(tcp("localhost", 465))
        );
        assert_eq!(parse_target("::1", None, 25, false), Ok(tcp("::1", 25)));
        assert_eq!(
            parse_target("[::1]:26", None, 25, false),
            Ok(tcp("::1", 26))
        );
        assert_eq!(parse_target("[::1]", None, 25, false), Ok(tcp("::1", 25)));
        assert_eq!(
            parse_target("mx:smtp", None, 25, false),
            Err(TargetError::BadPort("smtp".to_owned()))
        );
        assert_eq!(
            parse_target("[::1]x", None, 25, false),
            Err(TargetError::BadAddress("[::1]x".to_owned()))
        );
        assert_eq!(
            parse_target("/run/lmtp", None, 2003, true),
            Ok(Target::Unix("/run/lmtp".to_owned()))
        );
        assert_eq!(parse_target("/x", None, 25, false), Ok(tcp("/x", 25)));
    }

    #[test]
    fn local_hostname_rules() {
        let ip = Some(std::net::IpAddr::from([192, 0, 2, 1]));
        assert_eq!(
            local_hostname(Some("mx.example.org"), ip).as_str(),
            "mx.example.org"
        );
        assert_eq!(local_hostname(Some("mx"), ip).as_str(), "[192.0.2.1]");
        assert_eq!(
            local_hostname(Some("bad name.org"), None).as_str(),
            "localhost"
        );
        assert_eq!(local_hostname(None, None).as_str(), "localhost");
    }
}

/// The reply that refused a recipient: its negative RCPT reply, or its
/// negative final reply (LMTP). The same as
/// [`RecipientReport::refusal`](crate::RecipientReport::refusal), under
/// the name the adapters have always exported.
pub fn refusal(r: &crate::RecipientReport) -> Option<&Reply> {
    r.refusal()
}

/// The error for a Unix socket path on a platform without Unix sockets.
pub fn unix_sockets_unsupported(path: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("Unix sockets are not supported on this platform: {path}"),
    )
}

/// smtplib's `to_addrs`: one address (`"a@b"`, as smtplib takes a bare
/// string) or a list of them (`&["a@b", "c@d"]`, a `Vec` or slice of
/// `&str` or `String`). An empty list, `&[]`, needs no type annotation.
pub trait ToAddrs {
    /// The addresses, in order.
    fn to_addrs(&self) -> Vec<&str>;
}

impl ToAddrs for str {
    fn to_addrs(&self) -> Vec<&str> {
        vec![self]
    }
}

impl ToAddrs for String {
    fn to_addrs(&self) -> Vec<&str> {
        vec![self.as_str()]
    }
}

impl ToAddrs for [&str] {
    fn to_addrs(&self) -> Vec<&str> {
        self.to_vec()
    }
}

impl ToAddrs for [String] {
    fn to_addrs(&self) -> Vec<&str> {
        self.iter().map(String::as_str).collect()
    }
}

/// Arrays of `&str` only: with a single array impl, `&[]` infers as an
/// empty array of `&str`. (For `String`s, pass a `Vec` or a slice.)
impl<const N: usize> ToAddrs for [&str; N] {
    fn to_addrs(&self) -> Vec<&str> {
        self.to_vec()
    }
}

impl ToAddrs for Vec<&str> {
    fn to_addrs(&self) -> Vec<&str> {
        self.clone()
    }
}

impl ToAddrs for Vec<String> {
    fn to_addrs(&self) -> Vec<&str> {
        self.iter().map(String::as_str).collect()
    }
}
