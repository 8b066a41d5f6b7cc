//! Typed command arguments: SASL mechanism names and ESMTP parameters.

use std::borrow::Cow;
use std::fmt;
use std::ops::BitOr;
use std::str::FromStr;

use super::CommandError;
use super::xtext::{utf8_addr_xtext, xtext_encode};
use crate::address::{Mailbox, ReversePath, is_allowed_non_ascii};

/// Longest ENVID, in characters before xtext encoding (RFC 3461 §4.4).
const MAX_ENVID: usize = 100;

/// A SASL mechanism name, stored in upper case.
///
/// # Grammar
///
/// RFC 4422 §3.1 (the AUTH command takes it as its first argument,
/// RFC 4954 §4):
///
/// ```text
/// sasl-mech    = 1*20mech-char
/// mech-char    = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
/// ```
///
/// [`Mechanism::parse`] also accepts lower-case letters and upper-cases
/// them, since servers advertise and compare names case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mechanism(Cow<'static, str>);

impl Mechanism {
    /// `PLAIN` (RFC 4616).
    pub const PLAIN: Self = Self(Cow::Borrowed("PLAIN"));
    /// `LOGIN` (draft-murchison-sasl-login).
    pub const LOGIN: Self = Self(Cow::Borrowed("LOGIN"));
    /// `CRAM-MD5` (RFC 2195).
    pub const CRAM_MD5: Self = Self(Cow::Borrowed("CRAM-MD5"));
    /// `XOAUTH2` (Google and Microsoft OAuth 2.0 bearer tokens).
    pub const XOAUTH2: Self = Self(Cow::Borrowed("XOAUTH2"));
    /// `OAUTHBEARER` (RFC 7628).
    pub const OAUTHBEARER: Self = Self(Cow::Borrowed("OAUTHBEARER"));
    /// `SCRAM-SHA-256` (RFC 7677).
    pub const SCRAM_SHA_256: Self = Self(Cow::Borrowed("SCRAM-SHA-256"));
    /// `SCRAM-SHA-256-PLUS` (RFC 7677 with channel binding, RFC 5802 §6).
    pub const SCRAM_SHA_256_PLUS: Self = Self(Cow::Borrowed("SCRAM-SHA-256-PLUS"));

    /// Parses a mechanism name (see the type docs for the grammar).
    ///
    /// # Errors
    ///
    /// [`CommandError::InvalidMechanism`] if `name` is empty, longer than
    /// 20 characters, or has a character other than letters, digits, `-`
    /// and `_`.
    pub fn parse(name: &str) -> Result<Self, CommandError> {
        if name.is_empty() || name.len() > 20 {
            return Err(CommandError::InvalidMechanism {
                reason: "a mechanism name has 1 to 20 characters",
            });
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(CommandError::InvalidMechanism {
                reason: "a mechanism name has only letters, digits, '-' and '_'",
            });
        }
        Ok(Self(Cow::Owned(name.to_ascii_uppercase())))
    }

    /// The name, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Mechanism {
    type Err = CommandError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Mechanism {
    type Error = CommandError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

/// An ESMTP parameter of MAIL or RCPT that has no typed field in
/// [`MailParams`] or [`RcptParams`], such as `MT-PRIORITY=3` or `HOLDFOR=60`.
///
/// # Grammar
///
/// RFC 5321 §4.1.2, with `esmtp-value` extended by RFC 6531 §3.3:
///
/// ```text
/// esmtp-param    = esmtp-keyword ["=" esmtp-value]
/// esmtp-keyword  = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
/// esmtp-value    = 1*(%d33-60 / %d62-126)   ; CHAR except "=", SP and controls
/// esmtp-value    =/ UTF8-non-ascii         ; RFC 6531
/// ```
///
/// The keyword keeps its letter case. Non-ASCII values need SMTPUTF8; the
/// non-ASCII characters refused in addresses (controls, white space,
/// invisible format characters, see [`crate::address`]) are refused here
/// too. A keyword that a typed field also produces (`SIZE` with
/// [`MailParams::size`] set, for example) makes encoding fail with
/// [`CommandError::DuplicateParameter`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EsmtpParam {
    keyword: String,
    value: Option<String>,
}

impl EsmtpParam {
    /// Builds a parameter from a keyword and an optional value.
    ///
    /// # Errors
    ///
    /// [`CommandError::InvalidParameter`] if the keyword or the value does
    /// not follow the grammar (an empty value included: use `None`).
    pub fn new(keyword: &str, value: Option<&str>) -> Result<Self, CommandError> {
        check_keyword(keyword)?;
        if let Some(value) = value {
            check_value(keyword, value)?;
        }
        Ok(Self {
            keyword: keyword.to_owned(),
            value: value.map(str::to_owned),
        })
    }

    /// The keyword, as given.
    pub fn keyword(&self) -> &str {
        &self.keyword
    }

    /// The value, if any.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// `true` if the value has non-ASCII characters (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        self.value.as_deref().is_some_and(|v| !v.is_ascii())
    }
}

impl fmt::Display for EsmtpParam {
    /// Writes `KEYWORD` or `KEYWORD=value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}={value}", self.keyword),
            None => f.write_str(&self.keyword),
        }
    }
}

fn check_keyword(keyword: &str) -> Result<(), CommandError> {
    let first_ok = keyword
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = keyword
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(CommandError::InvalidParameter {
            keyword: keyword.to_owned(),
            reason: "a keyword is a letter or digit, then letters, digits and '-'",
        })
    }
}

fn check_value(keyword: &str, value: &str) -> Result<(), CommandError> {
    if value.is_empty() {
        return Err(CommandError::InvalidParameter {
            keyword: keyword.to_owned(),
            reason: "the value is empty",
        });
    }
    let ok = value
        .chars()
        .all(|c| (c.is_ascii_graphic() && c != '=') || is_allowed_non_ascii(c));
    if ok {
        Ok(())
    } else {
        Err(CommandError::InvalidParameter {
            keyword: keyword.to_owned(),
            reason: "the value has '=', a space, a control or a forbidden character",
        })
    }
}

/// The `BODY=` parameter of MAIL.
///
/// ```text
/// body-value = "7BIT" / "8BITMIME"     ; RFC 6152 §2
/// body-value =/ "BINARYMIME"           ; RFC 3030 §3, needs CHUNKING (BDAT)
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// `BODY=7BIT`: the body is 7-bit ASCII.
    SevenBit,
    /// `BODY=8BITMIME`: the body may have 8-bit octets in lines of normal
    /// length (RFC 6152).
    EightBitMime,
    /// `BODY=BINARYMIME`: arbitrary octets; must be sent with BDAT
    /// (RFC 3030).
    BinaryMime,
}

impl BodyType {
    /// The parameter value: `7BIT`, `8BITMIME` or `BINARYMIME`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SevenBit => "7BIT",
            Self::EightBitMime => "8BITMIME",
            Self::BinaryMime => "BINARYMIME",
        }
    }
}

/// The `RET=` parameter of MAIL (RFC 3461 §4.3): what a failure DSN returns.
///
/// ```text
/// ret-parameter = "RET=" ("FULL" / "HDRS")
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the headers only.
    Headers,
}

impl Ret {
    /// The parameter value: `FULL` or `HDRS`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Headers => "HDRS",
        }
    }
}

/// The `NOTIFY=` parameter of RCPT (RFC 3461 §4.1): when to send a DSN.
///
/// ```text
/// notify-esmtp-value  = "NEVER" / 1#notify-list-element
/// notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
/// ```
///
/// The value is a set of conditions; the empty set is `NEVER`, which by the
/// grammar cannot be combined with the others. Build it with
/// [`Notify::never`], [`Notify::new`], the constants and `|`:
///
/// ```
/// use smtp_proto::command::Notify;
/// let n = Notify::SUCCESS | Notify::FAILURE;
/// assert_eq!(n.to_string(), "SUCCESS,FAILURE");
/// assert_eq!(Notify::never().to_string(), "NEVER");
/// assert_eq!(Notify::new(false, false, false), Notify::NEVER);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Notify(u8);

impl Notify {
    const SUCCESS_BIT: u8 = 1;
    const FAILURE_BIT: u8 = 2;
    const DELAY_BIT: u8 = 4;

    /// `NOTIFY=NEVER`.
    pub const NEVER: Self = Self(0);
    /// `NOTIFY=SUCCESS`.
    pub const SUCCESS: Self = Self(Self::SUCCESS_BIT);
    /// `NOTIFY=FAILURE`.
    pub const FAILURE: Self = Self(Self::FAILURE_BIT);
    /// `NOTIFY=DELAY`.
    pub const DELAY: Self = Self(Self::DELAY_BIT);

    /// `NOTIFY=NEVER`: no DSN at all.
    pub const fn never() -> Self {
        Self::NEVER
    }

    /// The set of the given conditions; all `false` gives `NEVER`.
    pub const fn new(success: bool, failure: bool, delay: bool) -> Self {
        let mut bits = 0;
        if success {
            bits |= Self::SUCCESS_BIT;
        }
        if failure {
            bits |= Self::FAILURE_BIT;
        }
        if delay {
            bits |= Self::DELAY_BIT;
        }
        Self(bits)
    }

    /// `true` for `NEVER`.
    pub const fn is_never(self) -> bool {
        self.0 == 0
    }

    /// `true` if a DSN is asked for on successful delivery.
    pub const fn on_success(self) -> bool {
        self.0 & Self::SUCCESS_BIT != 0
    }

    /// `true` if a DSN is asked for on failure.
    pub const fn on_failure(self) -> bool {
        self.0 & Self::FAILURE_BIT != 0
    }

    /// `true` if a DSN is asked for on delay.
    pub const fn on_delay(self) -> bool {
        self.0 & Self::DELAY_BIT != 0
    }
}

impl BitOr for Notify {
    type Output = Self;

    /// The union of two sets (`NEVER | x == x`).
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Display for Notify {
    /// Writes the parameter value: `NEVER`, or the conditions in the order
    /// SUCCESS, FAILURE, DELAY, separated by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_never() {
            return f.write_str("NEVER");
        }
        let mut sep = "";
        for (on, name) in [
            (self.on_success(), "SUCCESS"),
            (self.on_failure(), "FAILURE"),
            (self.on_delay(), "DELAY"),
        ] {
            if on {
                f.write_str(sep)?;
                f.write_str(name)?;
                sep = ",";
            }
        }
        Ok(())
    }
}

/// The `ORCPT=` parameter of RCPT (RFC 3461 §4.2): the original recipient,
/// reported back in DSNs.
///
/// ```text
/// orcpt-parameter = "ORCPT=" original-recipient-address
/// original-recipient-address = addr-type ";" xtext
/// addr-type = atom
/// ```
///
/// # UTF-8 addresses
///
/// [`Orcpt::rfc822`] sends an ASCII mailbox as `rfc822;` + xtext. A mailbox
/// that needs SMTPUTF8 is sent with the `utf-8` address type of RFC 6533 §3
/// in its `utf-8-addr-xtext` form (`utf-8;j\x{F6}rg@example.org`): non-ASCII
/// characters and `\`, `+`, `=` and space become `\x{HEX}`. That form is
/// 7-bit, is valid xtext as it stands, and RFC 6533 makes it safe in ORCPT
/// whether or not the server offered SMTPUTF8; so ORCPT never makes a
/// command need SMTPUTF8, and the original recipient is kept exactly.
/// (The raw-UTF-8 `utf-8-addr-unitext` form is never sent.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Orcpt {
    addr_type: String,
    encoded: String,
}

impl Orcpt {
    /// The original recipient `mailbox`: `rfc822;` + xtext for an ASCII
    /// mailbox, `utf-8;` + utf-8-addr-xtext for an internationalized one
    /// (see the type docs).
    pub fn rfc822(mailbox: &Mailbox) -> Self {
        let address = mailbox.to_string();
        if address.is_ascii() {
            Self {
                addr_type: "rfc822".to_owned(),
                encoded: xtext_encode(address.as_bytes()),
            }
        } else {
            Self {
                addr_type: "utf-8".to_owned(),
                encoded: utf8_addr_xtext(&address),
            }
        }
    }

    /// An original recipient of any address type, such as `x400`. The
    /// address is xtext-encoded here.
    ///
    /// # Errors
    ///
    /// [`CommandError::InvalidParameter`] if `addr_type` is not 1 or more
    /// letters, digits and `-` (the IANA-registered types are; `+` and `=`,
    /// which `atom` allows, cannot appear unencoded in an ESMTP value), or
    /// if `address` is empty or not printable US-ASCII (RFC 3461 §4.2: the
    /// original address "MUST consist entirely of printable (graphic and
    /// white space) characters from the US-ASCII repertoire"). Use
    /// [`Orcpt::rfc822`] for internationalized mailboxes.
    pub fn new(addr_type: &str, address: &str) -> Result<Self, CommandError> {
        let type_ok = !addr_type.is_empty()
            && addr_type
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !type_ok {
            return Err(CommandError::InvalidParameter {
                keyword: "ORCPT".to_owned(),
                reason: "the address type is not letters, digits and '-'",
            });
        }
        if address.is_empty() || !address.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(CommandError::InvalidParameter {
                keyword: "ORCPT".to_owned(),
                reason: "the address is empty or not printable US-ASCII",
            });
        }
        Ok(Self {
            addr_type: addr_type.to_owned(),
            encoded: xtext_encode(address.as_bytes()),
        })
    }

    /// The address type (`rfc822`, `utf-8`, …).
    pub fn addr_type(&self) -> &str {
        &self.addr_type
    }

    /// The encoded address, as sent after the `;`.
    pub fn encoded_address(&self) -> &str {
        &self.encoded
    }
}

impl From<&Mailbox> for Orcpt {
    fn from(mailbox: &Mailbox) -> Self {
        Self::rfc822(mailbox)
    }
}

impl fmt::Display for Orcpt {
    /// Writes the parameter value, `addr-type;xtext`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};{}", self.addr_type, self.encoded)
    }
}

/// The parameters of MAIL FROM, written in this order: `SIZE`, `BODY`,
/// `SMTPUTF8`, `RET`, `ENVID`, `REQUIRETLS`, `AUTH`, then [`extra`](Self::extra).
///
/// Encoding does not check that the server offered the matching extension:
/// that is the session engine's job. Each keyword may appear once (RFC 5321
/// §4.1.2 gives no meaning to repeats, and servers answer 501).
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=n`: the message size in octets (RFC 1870 §3).
    pub size: Option<u64>,
    /// `BODY=`: the body type (RFC 6152, RFC 3030).
    pub body: Option<BodyType>,
    /// `SMTPUTF8` (RFC 6531 §3.4): required when an address or the message
    /// is internationalized.
    pub smtputf8: bool,
    /// `RET=`: what a failure DSN returns (RFC 3461 §4.3).
    pub ret: Option<Ret>,
    /// `ENVID=`: the envelope identifier echoed in DSNs (RFC 3461 §4.4).
    /// Plain text here: 1 to 100 printable US-ASCII characters (space
    /// allowed); xtext-encoded on the wire.
    pub envid: Option<String>,
    /// `REQUIRETLS` (RFC 8689 §4).
    pub requiretls: bool,
    /// `PRDR`: ask for one reply per recipient after the end of data
    /// (draft-hall-prdr-00). The client sets it itself when the server
    /// offers PRDR and the message has more than one recipient (see
    /// [`Config::prdr`](crate::Config::prdr)).
    pub prdr: bool,
    /// `AUTH=`: the authenticated submitter (RFC 4954 §5); the null path
    /// gives `AUTH=<>`, a mailbox is sent xtext-encoded.
    pub auth: Option<ReversePath>,
    /// Other parameters, written last in this order.
    pub extra: Vec<EsmtpParam>,
}

impl MailParams {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses smtplib-style `KEYWORD[=VALUE]` option strings, as given to
    /// smtplib's `mail(sender, options)`.
    ///
    /// Keywords are matched case-insensitively. `SIZE=n` sets
    /// [`size`](Self::size) (the last one wins), `BODY=` sets
    /// [`body`](Self::body), `SMTPUTF8` and `REQUIRETLS` set their flags;
    /// any other option goes to [`extra`](Self::extra) as given, so that
    /// `NOTIFY`-style extensions the typed fields do not cover still reach
    /// the server. Nothing is checked against the server's extensions here:
    /// that is the session engine's job.
    ///
    /// ```
    /// use smtp_proto::command::{BodyType, MailParams};
    /// let p = MailParams::from_options(&["SIZE=1000", "BODY=8BITMIME", "SMTPUTF8"])?;
    /// assert_eq!(p.size, Some(1000));
    /// assert_eq!(p.body, Some(BodyType::EightBitMime));
    /// assert!(p.smtputf8);
    /// # Ok::<(), smtp_proto::command::CommandError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`CommandError::InvalidMailOption`] for a `BODY=` other than `7BIT`,
    /// `8BITMIME` or `BINARYMIME` (reported at once), or when the last
    /// `SIZE` has no numeric value (reported after every other option);
    /// [`CommandError::InvalidParameter`] for another option that does not
    /// follow the ESMTP grammar.
    pub fn from_options(options: &[&str]) -> Result<Self, CommandError> {
        let (mut params, size) = Self::parse_options(options)?;
        params.size = size.transpose()?;
        Ok(params)
    }

    /// [`from_options`](Self::from_options) for smtplib's `sendmail`,
    /// which ignores `SIZE=` options, valid or not: the size sent is the
    /// real one, which the engine computes from the body.
    ///
    /// # Errors
    ///
    /// As [`from_options`](Self::from_options), except for `SIZE`.
    pub fn from_options_ignoring_size(options: &[&str]) -> Result<Self, CommandError> {
        Self::parse_options(options).map(|(params, _)| params)
    }

    /// The parameters of `options` without `size`, and the last `SIZE=`
    /// option parsed (its error deferred, since `sendmail` ignores it).
    fn parse_options(
        options: &[&str],
    ) -> Result<(Self, Option<Result<u64, CommandError>>), CommandError> {
        let mut params = Self::new();
        let mut size = None;
        for opt in options {
            let (kw, val) = split_option(opt);
            let bad = || CommandError::InvalidMailOption {
                option: (*opt).to_owned(),
            };
            match kw.to_ascii_uppercase().as_str() {
                "SIZE" => size = Some(val.and_then(|v| v.parse::<u64>().ok()).ok_or_else(bad)),
                "BODY" => {
                    params.body = Some(match val.map(str::to_ascii_uppercase).as_deref() {
                        Some("8BITMIME") => BodyType::EightBitMime,
                        Some("7BIT") => BodyType::SevenBit,
                        Some("BINARYMIME") => BodyType::BinaryMime,
                        _ => return Err(bad()),
                    });
                }
                "SMTPUTF8" => params.smtputf8 = true,
                "REQUIRETLS" => params.requiretls = true,
                "PRDR" => params.prdr = true,
                _ => params.extra.push(EsmtpParam::new(kw, val)?),
            }
        }
        Ok((params, size))
    }

    /// `true` if a parameter needs SMTPUTF8: an internationalized `AUTH=`
    /// mailbox or a non-ASCII [`extra`](Self::extra) value. (The `smtputf8`
    /// flag itself does not count.)
    pub fn needs_smtputf8(&self) -> bool {
        self.auth.as_ref().is_some_and(ReversePath::needs_smtputf8)
            || self.extra.iter().any(EsmtpParam::needs_smtputf8)
    }

    pub(super) fn write(&self, w: &mut ParamWriter<'_>) -> Result<(), CommandError> {
        if let Some(size) = self.size {
            w.push_number("SIZE", size)?;
        }
        if let Some(body) = self.body {
            w.push("BODY", Some(body.as_str()))?;
        }
        if self.smtputf8 {
            w.push("SMTPUTF8", None)?;
        }
        if let Some(ret) = self.ret {
            w.push("RET", Some(ret.as_str()))?;
        }
        if let Some(envid) = &self.envid {
            check_envid(envid)?;
            w.push("ENVID", Some(&xtext_encode(envid.as_bytes())))?;
        }
        if self.requiretls {
            w.push("REQUIRETLS", None)?;
        }
        if self.prdr {
            w.push("PRDR", None)?;
        }
        if let Some(auth) = &self.auth {
            let value = match auth.mailbox() {
                Some(mailbox) => xtext_encode(mailbox.to_string().as_bytes()),
                None => "<>".to_owned(),
            };
            w.push("AUTH", Some(&value))?;
        }
        for param in &self.extra {
            w.push(param.keyword(), param.value())?;
        }
        Ok(())
    }
}

fn check_envid(envid: &str) -> Result<(), CommandError> {
    let reason = if envid.is_empty() {
        "the envelope id is empty"
    } else if envid.len() > MAX_ENVID {
        "the envelope id is longer than 100 characters"
    } else if !envid.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        "the envelope id is not printable US-ASCII"
    } else {
        return Ok(());
    };
    Err(CommandError::InvalidParameter {
        keyword: "ENVID".to_owned(),
        reason,
    })
}

/// The parameters of RCPT TO, written in this order: `NOTIFY`, `ORCPT`,
/// then [`extra`](Self::extra). Each keyword may appear once.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=`: when to send a DSN (RFC 3461 §4.1).
    pub notify: Option<Notify>,
    /// `ORCPT=`: the original recipient (RFC 3461 §4.2).
    pub orcpt: Option<Orcpt>,
    /// Other parameters, written last in this order.
    pub extra: Vec<EsmtpParam>,
}

impl RcptParams {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses smtplib-style `KEYWORD[=VALUE]` option strings, as given to
    /// smtplib's `rcpt(recip, options)` (`"NOTIFY=SUCCESS,FAILURE"`,
    /// `"ORCPT=rfc822;a@b"`, …).
    ///
    /// Every option goes to [`extra`](Self::extra) and is sent as given,
    /// as smtplib does: typing `ORCPT` would re-encode its address.
    ///
    /// # Errors
    ///
    /// [`CommandError::InvalidParameter`] for an option that does not
    /// follow the ESMTP grammar.
    pub fn from_options(options: &[&str]) -> Result<Self, CommandError> {
        let mut params = Self::new();
        for opt in options {
            let (kw, val) = split_option(opt);
            params.extra.push(EsmtpParam::new(kw, val)?);
        }
        Ok(params)
    }

    /// `true` if a non-ASCII [`extra`](Self::extra) value needs SMTPUTF8
    /// (`ORCPT` never does, see [`Orcpt`]).
    pub fn needs_smtputf8(&self) -> bool {
        self.extra.iter().any(EsmtpParam::needs_smtputf8)
    }

    pub(super) fn write(&self, w: &mut ParamWriter<'_>) -> Result<(), CommandError> {
        if let Some(notify) = self.notify {
            w.push("NOTIFY", Some(&notify.to_string()))?;
        }
        if let Some(orcpt) = &self.orcpt {
            w.push("ORCPT", Some(&orcpt.to_string()))?;
        }
        for param in &self.extra {
            w.push(param.keyword(), param.value())?;
        }
        Ok(())
    }
}

/// Splits an smtplib-style option at its first `=`: `"SIZE=10"` gives
/// `("SIZE", Some("10"))`, `"SMTPUTF8"` gives `("SMTPUTF8", None)`.
fn split_option(opt: &str) -> (&str, Option<&str>) {
    match opt.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (opt, None),
    }
}

/// Appends ` KEYWORD[=value]` to a command line and refuses repeated
/// keywords (compared case-insensitively).
///
/// The keywords already written are found in the line itself, after
/// `start`: a parameter never contains a space (keywords and values are
/// checked when built, and xtext encodes spaces), so the parameters are
/// the space-separated tokens there. Nothing is allocated.
pub(super) struct ParamWriter<'a> {
    line: &'a mut String,
    /// Where the parameters start in `line`.
    start: usize,
}

impl<'a> ParamWriter<'a> {
    pub(super) fn new(line: &'a mut String) -> Self {
        let start = line.len();
        Self { line, start }
    }

    /// Refuses `keyword` when the line already has it.
    fn check_new(&self, keyword: &str) -> Result<(), CommandError> {
        let written = self
            .line
            .get(self.start..)
            .unwrap_or_default()
            .split(' ')
            .any(|token| split_option(token).0.eq_ignore_ascii_case(keyword));
        if written {
            return Err(CommandError::DuplicateParameter {
                keyword: keyword.to_owned(),
            });
        }
        Ok(())
    }

    /// ` KEYWORD=n`, written in place (no string for the number).
    fn push_number(&mut self, keyword: &str, n: u64) -> Result<(), CommandError> {
        self.check_new(keyword)?;
        // Writing to a String cannot fail.
        let _ = fmt::Write::write_fmt(self.line, format_args!(" {keyword}={n}"));
        Ok(())
    }

    fn push(&mut self, keyword: &str, value: Option<&str>) -> Result<(), CommandError> {
        self.check_new(keyword)?;
        self.line.push(' ');
        self.line.push_str(keyword);
        if let Some(value) = value {
            self.line.push('=');
            self.line.push_str(value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_option_at_the_first_equals() {
        assert_eq!(split_option("SIZE=10"), ("SIZE", Some("10")));
        assert_eq!(split_option("SMTPUTF8"), ("SMTPUTF8", None));
        assert_eq!(split_option("ORCPT=a=b"), ("ORCPT", Some("a=b")));
        assert_eq!(split_option("X="), ("X", Some("")));
    }

    #[test]
    fn mail_options_fill_the_typed_fields() {
        let p = MailParams::from_options(&[
            "size=1000",
            "BODY=8bitmime",
            "SMTPUTF8",
            "RequireTLS",
            "MT-PRIORITY=3",
        ])
        .unwrap();
        assert_eq!(p.size, Some(1000));
        assert_eq!(p.body, Some(BodyType::EightBitMime));
        assert!(p.smtputf8 && p.requiretls);
        assert_eq!(
            p.extra,
            [EsmtpParam::new("MT-PRIORITY", Some("3")).unwrap()]
        );
        let p = MailParams::from_options(&["BODY=7BIT"]).unwrap();
        assert_eq!(p.body, Some(BodyType::SevenBit));
        let p = MailParams::from_options(&["BODY=BINARYMIME"]).unwrap();
        assert_eq!(p.body, Some(BodyType::BinaryMime));
        assert_eq!(MailParams::from_options(&[]).unwrap(), MailParams::new());
    }

    #[test]
    fn the_last_size_wins_and_its_error_comes_last() {
        let p = MailParams::from_options(&["SIZE=x", "SIZE=5"]).unwrap();
        assert_eq!(p.size, Some(5));
        let bad = |o: &str| CommandError::InvalidMailOption {
            option: o.to_owned(),
        };
        assert_eq!(MailParams::from_options(&["SIZE"]), Err(bad("SIZE")));
        assert_eq!(MailParams::from_options(&["SIZE=-1"]), Err(bad("SIZE=-1")));
        // A bad BODY is reported at once, a bad SIZE after the rest.
        assert_eq!(
            MailParams::from_options(&["SIZE=x", "BODY=9BIT"]),
            Err(bad("BODY=9BIT"))
        );
        assert_eq!(MailParams::from_options(&["BODY"]), Err(bad("BODY")));
        assert_eq!(bad("SIZE").to_string(), "mail option \"SIZE\"");
    }

    #[test]
    fn sendmail_ignores_size_valid_or_not() {
        let p = MailParams::from_options_ignoring_size(&["SIZE=x", "SIZE=10", "SMTPUTF8"]).unwrap();
        assert_eq!(p.size, None);
        assert!(p.smtputf8);
        assert!(MailParams::from_options_ignoring_size(&["BODY=x"]).is_err());
    }

    #[test]
    fn other_mail_options_follow_the_esmtp_grammar() {
        assert!(matches!(
            MailParams::from_options(&["-X"]),
            Err(CommandError::InvalidParameter { .. })
        ));
        assert!(matches!(
            MailParams::from_options(&["X="]),
            Err(CommandError::InvalidParameter { .. })
        ));
    }

    #[test]
    fn rcpt_options_are_sent_as_given() {
        let p =
            RcptParams::from_options(&["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a+b@c"]).unwrap();
        assert_eq!(p.notify, None);
        assert_eq!(p.orcpt, None);
        let shown: Vec<String> = p.extra.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a+b@c"]);
        assert_eq!(RcptParams::from_options(&[]).unwrap(), RcptParams::new());
        assert!(matches!(
            RcptParams::from_options(&["NOTIFY=a b"]),
            Err(CommandError::InvalidParameter { .. })
        ));
    }
}
