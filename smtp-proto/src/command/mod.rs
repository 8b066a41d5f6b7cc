//! Command encoding with one validation choke point.
//!
//! A [`Command`] is built from validated types ([`Domain`], [`ReversePath`],
//! [`ForwardPath`], [`Mechanism`], [`MailParams`], [`RcptParams`]) and
//! plain strings for the free-form commands (VRFY, EXPN, HELP and
//! [`Command::Raw`]). [`Command::encode`] builds the whole line, then passes
//! the final bytes through one private check before a single byte reaches
//! the output:
//!
//! - no CR, LF, NUL, other C0 control (TAB included) or DEL anywhere
//!   ([`CommandError::ForbiddenByte`]);
//! - no non-ASCII control (C1, such as NEL U+0085), LINE SEPARATOR,
//!   PARAGRAPH SEPARATOR, or invisible or direction-changing format
//!   character ([`CommandError::ForbiddenCharacter`]), so a line cannot be
//!   split or disguised by software that treats them as line breaks.
//!
//! Only then is the line appended, with its CRLF; on error nothing is
//! appended. Every encoding path goes through that check, even those whose
//! inputs were validated already (addresses, parameters), so a bug in one
//! validator cannot put a line break on the wire.
//!
//! Non-ASCII text is allowed (RFC 6531) but reported by
//! [`Command::needs_smtputf8`]; the session engine refuses to send such a
//! command unless the server offered SMTPUTF8. Command lines are not held
//! to the 512-octet limit of RFC 5321 §4.5.3.1.4: extensions raise it, and
//! the server answers 500 to a line it finds too long.

mod params;
#[cfg(test)]
mod tests;
mod xtext;

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub use params::{BodyType, EsmtpParam, MailParams, Mechanism, Notify, Orcpt, RcptParams, Ret};
pub use xtext::{xtext_decode, xtext_encode};

use crate::Secret;
use crate::address::{AddressError, Domain, ForwardPath, ReversePath, is_invisible_format};

/// Why a command cannot be encoded, or an argument cannot be built.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The line would contain CR, LF, NUL, another C0 control (TAB
    /// included) or DEL. `offset` is the byte offset in the line without
    /// its CRLF.
    #[error("forbidden byte 0x{byte:02X} at offset {offset} of the command line")]
    ForbiddenByte {
        /// The byte.
        byte: u8,
        /// Byte offset in the line.
        offset: usize,
    },
    /// The line would contain a non-ASCII control character, a Unicode
    /// line or paragraph separator, or an invisible or direction-changing
    /// format character. `offset` is the byte offset in the line.
    #[error("forbidden character U+{:04X} at offset {offset} of the command line", u32::from(*ch))]
    ForbiddenCharacter {
        /// The character.
        ch: char,
        /// Byte offset in the line.
        offset: usize,
    },
    /// An address is invalid.
    #[error("invalid address: {0}")]
    Address(#[from] AddressError),
    /// A SASL mechanism name is invalid.
    #[error("invalid SASL mechanism name: {reason}")]
    InvalidMechanism {
        /// What is wrong.
        reason: &'static str,
    },
    /// An ESMTP parameter keyword or value is invalid.
    #[error("invalid ESMTP parameter {keyword:?}: {reason}")]
    InvalidParameter {
        /// The keyword, as given.
        keyword: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An smtplib-style MAIL option string (see
    /// [`MailParams::from_options`]) has a `SIZE=` that is not a number or
    /// a `BODY=` that is not `7BIT`, `8BITMIME` or `BINARYMIME`.
    #[error("mail option {option:?}")]
    InvalidMailOption {
        /// The option string, as given.
        option: String,
    },
    /// The same ESMTP parameter keyword would appear twice on one line.
    #[error("ESMTP parameter {keyword:?} appears twice")]
    DuplicateParameter {
        /// The keyword of the second occurrence.
        keyword: String,
    },
    /// VRFY, EXPN, HELP or a raw line was given an empty argument.
    #[error("{verb} needs a non-empty argument")]
    EmptyArgument {
        /// The verb (`RAW` for [`Command::Raw`]).
        verb: &'static str,
    },
    /// Text given to [`xtext_decode`] is not valid xtext.
    #[error("invalid xtext at offset {offset}")]
    InvalidXtext {
        /// Byte offset of the first invalid character.
        offset: usize,
    },
}

/// One SMTP or LMTP command line.
///
/// The doc of each variant shows its wire form (without the CRLF that
/// [`Command::encode`] adds).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain` (RFC 5321 §4.1.1.1).
    Ehlo(Domain),
    /// `HELO domain` (RFC 5321 §4.1.1.1).
    Helo(Domain),
    /// `LHLO domain` (RFC 2033 §4.1), LMTP's EHLO.
    Lhlo(Domain),
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    ///
    /// The initial response holds raw bytes; it is sent in base64, and an
    /// empty one is sent as `=` (RFC 4954 §4: "If the client is
    /// transmitting an initial response of zero length, it MUST instead
    /// transmit the response as a single equals sign").
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The initial response, raw (not base64).
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// The answer to a `334` challenge: one line of base64 (RFC 4954 §4).
    ///
    /// An empty response is sent as an empty line: the `=` convention of
    /// RFC 4954 §4 applies only to the initial response on the AUTH line,
    /// and the base64 encoding of zero octets is the empty string.
    AuthResponse(Secret<Vec<u8>>),
    /// `*`: cancels the AUTH exchange (RFC 4954 §4).
    AuthCancel,
    /// `MAIL FROM:<reverse-path> [params]` (RFC 5321 §4.1.1.2).
    Mail {
        /// The reverse path (`<>` for bounces).
        from: ReversePath,
        /// ESMTP parameters.
        params: MailParams,
    },
    /// `RCPT TO:<forward-path> [params]` (RFC 5321 §4.1.1.3).
    Rcpt {
        /// The recipient.
        to: ForwardPath,
        /// ESMTP parameters.
        params: RcptParams,
    },
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2): only the command line; the
    /// `size` octets of the chunk follow it verbatim.
    Bdat {
        /// The exact chunk size in octets.
        size: u64,
        /// `true` for the last chunk.
        last: bool,
    },
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `NOOP` (RFC 5321 §4.1.1.9).
    Noop,
    /// `VRFY string` (RFC 5321 §4.1.1.6). The argument must be non-empty
    /// and a single line; it is not otherwise checked, since servers accept
    /// user names, mailboxes and `<mailbox>` forms.
    Vrfy(String),
    /// `EXPN string` (RFC 5321 §4.1.1.7); argument as for [`Command::Vrfy`].
    Expn(String),
    /// `HELP [string]` (RFC 5321 §4.1.1.8); an argument, if given, must be
    /// non-empty and a single line.
    Help(Option<String>),
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// Any single non-empty line, sent as given (smtplib's `docmd`). Only
    /// the choke point applies: no CR, LF or other control, so a raw line
    /// can never carry a second command or an end-of-data `.`.
    Raw(String),
}

impl Command {
    /// Appends the whole command line, CRLF included, to `out`.
    ///
    /// # Errors
    ///
    /// On error `out` is left exactly as it was.
    /// - [`CommandError::ForbiddenByte`] or
    ///   [`CommandError::ForbiddenCharacter`]: the line would carry a
    ///   forbidden byte or character (see the [module docs](self)).
    /// - [`CommandError::EmptyArgument`]: VRFY, EXPN, HELP or Raw with an
    ///   empty argument.
    /// - [`CommandError::InvalidParameter`]: an invalid `ENVID` (empty,
    ///   longer than 100 characters, or not printable US-ASCII).
    /// - [`CommandError::DuplicateParameter`]: a keyword of
    ///   [`MailParams::extra`] or [`RcptParams::extra`] repeats another
    ///   parameter.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CommandError> {
        let mut line = String::new();
        self.build_line(&mut line)?;
        append_checked_line(&line, out)
    }

    /// Builds the line without its CRLF into `line`; not yet checked
    /// (see [`check_line`]).
    pub(crate) fn build_line(&self, line: &mut String) -> Result<(), CommandError> {
        match self {
            Self::Ehlo(domain) => push_all(line, &["EHLO ", domain.as_str()]),
            Self::Helo(domain) => push_all(line, &["HELO ", domain.as_str()]),
            Self::Lhlo(domain) => push_all(line, &["LHLO ", domain.as_str()]),
            Self::StartTls => line.push_str("STARTTLS"),
            Self::Auth {
                mechanism,
                initial_response,
            } => {
                push_all(line, &["AUTH ", mechanism.as_str()]);
                if let Some(response) = initial_response {
                    line.push(' ');
                    if response.expose().is_empty() {
                        line.push('=');
                    } else {
                        BASE64.encode_string(response.expose(), line);
                    }
                }
            }
            Self::AuthResponse(response) => BASE64.encode_string(response.expose(), line),
            Self::AuthCancel => line.push('*'),
            Self::Mail { from, params } => mail_line(line, from, params)?,
            Self::Rcpt { to, params } => rcpt_line(line, to, params)?,
            Self::Data => line.push_str("DATA"),
            Self::Bdat { size, last } => {
                let _ = write!(line, "BDAT {size}");
                if *last {
                    line.push_str(" LAST");
                }
            }
            Self::Rset => line.push_str("RSET"),
            Self::Noop => line.push_str("NOOP"),
            Self::Vrfy(arg) => push_all(line, &["VRFY ", non_empty("VRFY", arg)?]),
            Self::Expn(arg) => push_all(line, &["EXPN ", non_empty("EXPN", arg)?]),
            Self::Help(None) => line.push_str("HELP"),
            Self::Help(Some(arg)) => push_all(line, &["HELP ", non_empty("HELP", arg)?]),
            Self::Quit => line.push_str("QUIT"),
            Self::Raw(raw) => line.push_str(non_empty("RAW", raw)?),
        }
        Ok(())
    }

    /// The command verb for errors and logs: `"EHLO"`, `"MAIL"`, … The
    /// three parts of an AUTH exchange ([`Command::Auth`],
    /// [`Command::AuthResponse`], [`Command::AuthCancel`]) all report
    /// `"AUTH"`; a [`Command::Raw`] line reports `"RAW"`.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Ehlo(_) => "EHLO",
            Self::Helo(_) => "HELO",
            Self::Lhlo(_) => "LHLO",
            Self::StartTls => "STARTTLS",
            Self::Auth { .. } | Self::AuthResponse(_) | Self::AuthCancel => "AUTH",
            Self::Mail { .. } => "MAIL",
            Self::Rcpt { .. } => "RCPT",
            Self::Data => "DATA",
            Self::Bdat { .. } => "BDAT",
            Self::Rset => "RSET",
            Self::Noop => "NOOP",
            Self::Vrfy(_) => "VRFY",
            Self::Expn(_) => "EXPN",
            Self::Help(_) => "HELP",
            Self::Quit => "QUIT",
            Self::Raw(_) => "RAW",
        }
    }

    /// `true` if the command carries a non-ASCII address or argument and so
    /// may only be sent when the server offered SMTPUTF8 (RFC 6531).
    ///
    /// That is: a U-label in the EHLO/HELO/LHLO domain, an internationalized
    /// MAIL or RCPT address or `AUTH=` mailbox, a non-ASCII ESMTP value, or
    /// non-ASCII text in VRFY, EXPN, HELP or a raw line. ORCPT never counts
    /// (it is sent 7-bit, see [`Orcpt`]); neither does
    /// [`MailParams::smtputf8`] itself.
    pub fn needs_smtputf8(&self) -> bool {
        match self {
            Self::Ehlo(domain) | Self::Helo(domain) | Self::Lhlo(domain) => !domain.is_ascii(),
            Self::Mail { from, params } => from.needs_smtputf8() || params.needs_smtputf8(),
            Self::Rcpt { to, params } => to.needs_smtputf8() || params.needs_smtputf8(),
            Self::Vrfy(arg) | Self::Expn(arg) | Self::Help(Some(arg)) | Self::Raw(arg) => {
                !arg.is_ascii()
            }
            Self::StartTls
            | Self::Auth { .. }
            | Self::AuthResponse(_)
            | Self::AuthCancel
            | Self::Data
            | Self::Bdat { .. }
            | Self::Rset
            | Self::Noop
            | Self::Help(None)
            | Self::Quit => false,
        }
    }

    /// `true` for lines that may carry credentials ([`Command::Auth`] and
    /// [`Command::AuthResponse`]): logs and wire traces must redact them.
    pub fn is_sensitive(&self) -> bool {
        matches!(self, Self::Auth { .. } | Self::AuthResponse(_))
    }
}

fn push_all(line: &mut String, parts: &[&str]) {
    for part in parts {
        line.push_str(part);
    }
}

fn non_empty<'a>(verb: &'static str, arg: &'a str) -> Result<&'a str, CommandError> {
    if arg.is_empty() {
        Err(CommandError::EmptyArgument { verb })
    } else {
        Ok(arg)
    }
}

/// The choke point: the only function that writes command bytes.
///
/// Checks the final line (without CRLF) and appends it with CRLF, or
/// appends nothing.
fn append_checked_line(line: &str, out: &mut Vec<u8>) -> Result<(), CommandError> {
    check_line(line)?;
    out.reserve(line.len() + 2);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// [`Command::Mail`]'s line from borrowed parts, so that the engine
/// queues a transaction without copying its envelope into commands.
pub(crate) fn mail_line(
    line: &mut String,
    from: &ReversePath,
    params: &MailParams,
) -> Result<(), CommandError> {
    line.push_str("MAIL FROM:");
    from.push_to(line);
    params.write(&mut params::ParamWriter::new(line))
}

/// [`Command::Rcpt`]'s line from borrowed parts (see [`mail_line`]).
pub(crate) fn rcpt_line(
    line: &mut String,
    to: &ForwardPath,
    params: &RcptParams,
) -> Result<(), CommandError> {
    line.push_str("RCPT TO:");
    to.push_to(line);
    params.write(&mut params::ParamWriter::new(line))
}

/// Refuses a line with a control byte or a forbidden character.
pub(crate) fn check_line(line: &str) -> Result<(), CommandError> {
    if let Some((offset, &byte)) = line
        .as_bytes()
        .iter()
        .enumerate()
        .find(|(_, b)| b.is_ascii_control())
    {
        return Err(CommandError::ForbiddenByte { byte, offset });
    }
    // Most lines are ASCII: one fast pass skips the character scan.
    if line.is_ascii() {
        return Ok(());
    }
    if let Some((offset, ch)) = line
        .char_indices()
        .find(|&(_, c)| is_forbidden_non_ascii(c))
    {
        return Err(CommandError::ForbiddenCharacter { ch, offset });
    }
    Ok(())
}

/// Non-ASCII characters never sent: controls (C1), line and paragraph
/// separators, invisible or direction-changing format characters.
fn is_forbidden_non_ascii(c: char) -> bool {
    !c.is_ascii()
        && (c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_invisible_format(c))
}
