//! [`Domain`]: a domain name or an address literal.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::{AddressError, is_allowed_non_ascii};

/// Longest domain label, in octets (RFC 5321 §4.5.3.1.2, RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;
/// Longest domain or address literal, in octets (RFC 5321 §4.5.3.1.2).
const MAX_DOMAIN: usize = 255;
/// Length of the ACE prefix `xn--` (RFC 5890 §2.3.2.1).
const ACE_PREFIX_LEN: usize = 4;

/// A validated domain name or address literal: the argument of EHLO, HELO
/// and LHLO, and the part of a [`Mailbox`](super::Mailbox) after the `@`.
///
/// The text is kept exactly as given (case included) and is what goes on
/// the wire. Equality compares that text, so `Example.COM` and `example.com`
/// are different values even though DNS treats them alike.
///
/// # Grammar
///
/// RFC 5321 §4.1.2, with `sub-domain` extended by RFC 6531 §3.3:
///
/// ```text
/// Domain         = sub-domain *("." sub-domain)
/// sub-domain     = Let-dig [Ldh-str]
/// sub-domain     =/ U-label                      ; RFC 6531
/// Let-dig        = ALPHA / DIGIT
/// Ldh-str        = *( ALPHA / DIGIT / "-" ) Let-dig
/// ```
///
/// and the address literals of RFC 5321 §4.1.3:
///
/// ```text
/// address-literal  = "[" ( IPv4-address-literal /
///                          IPv6-address-literal /
///                          General-address-literal ) "]"
/// IPv4-address-literal  = Snum 3("."  Snum)
/// IPv6-address-literal  = "IPv6:" IPv6-addr
/// General-address-literal  = Standardized-tag ":" 1*dcontent
/// Standardized-tag  = Ldh-str
/// dcontent       = %d33-90 / %d94-126   ; printable US-ASCII except "[", "\", "]"
/// Snum           = 1*3DIGIT             ; 0 through 255
/// IPv6-addr      = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp
/// IPv6-hex       = 1*4HEXDIG
/// IPv6-full      = IPv6-hex 7(":" IPv6-hex)
/// IPv6-comp      = [IPv6-hex *5(":" IPv6-hex)] "::" [IPv6-hex *5(":" IPv6-hex)]
///                  ; at most 6 groups besides the "::"
/// IPv6v4-full    = IPv6-hex 5(":" IPv6-hex) ":" IPv4-address-literal
/// IPv6v4-comp    = [IPv6-hex *3(":" IPv6-hex)] "::"
///                  [IPv6-hex *3(":" IPv6-hex) ":"] IPv4-address-literal
///                  ; at most 4 groups besides the "::" and the IPv4 part
/// ```
///
/// A U-label here is a label holding at least one non-ASCII character; it
/// may also hold ASCII letters, digits and `-`, must not start or end with
/// `-`, and must not have `--` in its third and fourth positions
/// (RFC 5891 §4.2.3.1). The `IPv6` tag is matched case-insensitively, as ABNF
/// strings are. See the [module docs](super) for the length limits and for
/// the non-ASCII characters that are refused.
///
/// The text is shared, so a clone costs no allocation: the client copies
/// addresses into commands and reports for every message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Domain(Arc<str>);

impl Domain {
    /// Parses a domain name or an address literal (see the type docs for
    /// the grammar and limits).
    ///
    /// # Errors
    ///
    /// [`AddressError::EmptyDomain`], [`AddressError::ForbiddenCharacter`],
    /// [`AddressError::InvalidDomain`], [`AddressError::LabelTooLong`],
    /// [`AddressError::DomainTooLong`] or
    /// [`AddressError::InvalidAddressLiteral`].
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        Self::parse_at(s, 0)
    }

    /// [`Domain::parse`] for a domain found at byte `base` of a longer input,
    /// so that error offsets point into that input.
    pub(super) fn parse_at(s: &str, base: usize) -> Result<Self, AddressError> {
        if s.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        if let Some(rest) = s.strip_prefix('[') {
            let Some(inner) = rest.strip_suffix(']') else {
                return Err(AddressError::InvalidAddressLiteral {
                    reason: "missing closing ']'",
                });
            };
            check_address_literal(inner, base + 1)?;
            if s.len() > MAX_DOMAIN {
                return Err(AddressError::DomainTooLong);
            }
        } else {
            check_domain_name(s, base)?;
        }
        Ok(Self(Arc::from(s)))
    }

    /// `localhost`: the default client name, since the core cannot look up
    /// the host's name (adapters supply the FQDN, as smtplib does).
    pub fn localhost() -> Self {
        Self(Arc::from("localhost"))
    }

    /// The address literal for an IP address (`[192.0.2.1]`,
    /// `[IPv6:2001:db8::1]`): smtplib's EHLO name for a host whose name has
    /// no dot.
    pub fn from_ip(ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(v4) => Self(Arc::from(format!("[{v4}]"))),
            std::net::IpAddr::V6(v6) => Self(Arc::from(format!("[IPv6:{v6}]"))),
        }
    }

    /// The domain as it goes on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `true` if the domain is pure ASCII; `false` means it has a U-label
    /// and needs SMTPUTF8 (RFC 6531).
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// The domain with every U-label converted to its A-label (IDNA,
    /// UTS #46 processing as browsers and mail clients apply it):
    /// `bücher.example` becomes `xn--bcher-kva.example`. An ASCII domain
    /// comes back unchanged. This is how an internationalized domain
    /// reaches a server without SMTPUTF8 (RFC 6531 §3.2).
    ///
    /// # Errors
    /// [`AddressError::InvalidIdna`] when IDNA rejects the name (for
    /// example a label with disallowed characters), or the A-label form is
    /// not a valid domain.
    pub fn to_ascii(&self) -> Result<Domain, AddressError> {
        if self.is_ascii() {
            return Ok(self.clone());
        }
        let ascii = idna::domain_to_ascii(&self.0).map_err(|_| AddressError::InvalidIdna)?;
        Domain::parse(&ascii).map_err(|_| AddressError::InvalidIdna)
    }

    /// `true` for an address literal such as `[192.0.2.1]` or
    /// `[IPv6:2001:db8::1]`.
    pub fn is_address_literal(&self) -> bool {
        self.0.starts_with('[')
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Domain {
    type Error = AddressError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl AsRef<str> for Domain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks a dot-separated domain name; `base` is its offset in the input.
fn check_domain_name(s: &str, base: usize) -> Result<(), AddressError> {
    let mut total = 0usize;
    let mut offset = base;
    for (index, label) in s.split('.').enumerate() {
        if index > 0 {
            total += 1;
        }
        total += check_label(label, offset)?;
        offset += label.len() + 1;
    }
    if total > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    Ok(())
}

/// Checks one label and returns its length as DNS sees it (the A-label
/// length for a U-label).
fn check_label(label: &str, at: usize) -> Result<usize, AddressError> {
    if label.is_empty() {
        return Err(AddressError::InvalidDomain {
            offset: at,
            reason: "empty label (leading, trailing or doubled '.')",
        });
    }
    let mut ascii = true;
    for (i, ch) in label.char_indices() {
        if ch.is_ascii_alphanumeric() || ch == '-' {
            continue;
        }
        if is_allowed_non_ascii(ch) && !is_ideographic_full_stop(ch) {
            ascii = false;
            continue;
        }
        return Err(AddressError::ForbiddenCharacter { ch, offset: at + i });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(AddressError::InvalidDomain {
            offset: at,
            reason: "label starts or ends with '-'",
        });
    }
    let len = if ascii {
        label.len()
    } else {
        let mut chars = label.chars().skip(2);
        if chars.next() == Some('-') && chars.next() == Some('-') {
            return Err(AddressError::InvalidDomain {
                offset: at,
                reason: "U-label with '--' in the third and fourth positions",
            });
        }
        a_label_len(label).ok_or(AddressError::LabelTooLong { offset: at })?
    };
    if len > MAX_LABEL {
        return Err(AddressError::LabelTooLong { offset: at });
    }
    Ok(len)
}

/// Full stops that IDNA lookup treats as label separators (UTS #46); inside
/// a label they would make the name mean something else than it shows.
fn is_ideographic_full_stop(c: char) -> bool {
    matches!(c, '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
}

/// Checks the text between `[` and `]`; `at` is its offset in the input.
fn check_address_literal(inner: &str, at: usize) -> Result<(), AddressError> {
    if inner.is_empty() {
        return Err(AddressError::InvalidAddressLiteral {
            reason: "empty address literal",
        });
    }
    // dcontent (and every IPv4/IPv6 character) is printable ASCII other than
    // "[", "\" and "]".
    for (i, ch) in inner.char_indices() {
        if !ch.is_ascii_graphic() || matches!(ch, '[' | '\\' | ']') {
            return Err(AddressError::ForbiddenCharacter { ch, offset: at + i });
        }
    }
    match inner.split_once(':') {
        None => {
            if is_ipv4(inner) {
                Ok(())
            } else {
                Err(AddressError::InvalidAddressLiteral {
                    reason: "not an IPv4 address and no 'tag:' prefix",
                })
            }
        }
        Some((tag, content)) if tag.eq_ignore_ascii_case("IPv6") => {
            if is_ipv6(content) {
                Ok(())
            } else {
                Err(AddressError::InvalidAddressLiteral {
                    reason: "invalid IPv6 address",
                })
            }
        }
        Some((tag, content)) => {
            if !is_ldh_str(tag) {
                return Err(AddressError::InvalidAddressLiteral {
                    reason: "the tag is not letters, digits and '-' ending in a letter or digit",
                });
            }
            if content.is_empty() {
                return Err(AddressError::InvalidAddressLiteral {
                    reason: "nothing after the tag",
                });
            }
            Ok(())
        }
    }
}

/// `Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig`
fn is_ldh_str(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// `IPv4-address-literal = Snum 3("." Snum)`, `Snum = 1*3DIGIT` (0–255).
/// Leading zeros are allowed by the grammar and accepted.
fn is_ipv4(s: &str) -> bool {
    let mut count = 0;
    for part in s.split('.') {
        count += 1;
        let ok = (1..=3).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_digit())
            && part.parse::<u16>().is_ok_and(|n| n <= 255);
        if !ok {
            return false;
        }
    }
    count == 4
}

/// `IPv6-addr` of RFC 5321 §4.1.3 (see [`Domain`] for the ABNF).
///
/// A trailing IPv4 part stands for two 16-bit groups; replacing it by two
/// groups turns `IPv6v4-full` into `IPv6-full` and `IPv6v4-comp` (at most 4
/// groups beside it) into `IPv6-comp` (at most 6 groups), so one check
/// covers all four forms.
fn is_ipv6(s: &str) -> bool {
    let (head, tail) = match s.rsplit_once(':') {
        Some(split) => split,
        None => return false,
    };
    if tail.contains('.') {
        if !is_ipv4(tail) {
            return false;
        }
        let mut replaced = String::with_capacity(head.len() + 4);
        replaced.push_str(head);
        replaced.push_str(":0:0");
        is_ipv6_hex(&replaced)
    } else {
        is_ipv6_hex(s)
    }
}

/// `IPv6-full / IPv6-comp`.
fn is_ipv6_hex(s: &str) -> bool {
    match s.split_once("::") {
        Some((left, right)) => {
            if right.contains("::") {
                return false;
            }
            match (hex_groups(left), hex_groups(right)) {
                (Some(l), Some(r)) => l + r <= 6,
                _ => false,
            }
        }
        None => hex_groups(s) == Some(8),
    }
}

/// Number of `IPv6-hex` groups in `1*4HEXDIG *(":" 1*4HEXDIG)`, 0 for an
/// empty string, `None` if malformed.
fn hex_groups(s: &str) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    for group in s.split(':') {
        if group.is_empty() || group.len() > 4 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        count += 1;
    }
    Some(count)
}

/// Length of the A-label of `label` (`xn--` + Punycode, RFC 3492 §6.3),
/// computed without building it. `None` if the label is certainly longer
/// than [`MAX_LABEL`] or the arithmetic would overflow.
///
/// Every code point yields at least one output character, so a label of more
/// than 59 code points is refused before the quadratic part runs.
fn a_label_len(label: &str) -> Option<usize> {
    const BASE: u64 = 36;
    const TMIN: u64 = 1;
    const TMAX: u64 = 26;

    let points: Vec<u64> = label.chars().map(|c| u64::from(u32::from(c))).collect();
    if points.len() > MAX_LABEL - ACE_PREFIX_LEN {
        return None;
    }
    let basic = points.iter().filter(|&&c| c < 0x80).count();
    let mut out = basic + usize::from(basic > 0);
    let mut n: u64 = 0x80;
    let mut delta: u64 = 0;
    let mut bias: u64 = 72;
    let mut handled = basic;
    while handled < points.len() {
        let m = points.iter().copied().filter(|&c| c >= n).min()?;
        let handled_plus_one = u64::try_from(handled).ok()?.checked_add(1)?;
        delta = delta.checked_add((m - n).checked_mul(handled_plus_one)?)?;
        n = m;
        for &c in &points {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        TMIN
                    } else if k >= bias + TMAX {
                        TMAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out += 1;
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out += 1;
                let points_so_far = u64::try_from(handled).ok()?.checked_add(1)?;
                bias = punycode_adapt(delta, points_so_far, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out + ACE_PREFIX_LEN)
}

/// The bias adaptation function of RFC 3492 §6.1.
fn punycode_adapt(delta: u64, num_points: u64, first_time: bool) -> u64 {
    const BASE: u64 = 36;
    const TMIN: u64 = 1;
    const TMAX: u64 = 26;
    const SKEW: u64 = 38;
    const DAMP: u64 = 700;

    let mut delta = if first_time { delta / DAMP } else { delta / 2 };
    delta += delta / num_points.max(1);
    let mut k = 0;
    while delta > ((BASE - TMIN) * TMAX) / 2 {
        delta /= BASE - TMIN;
        k += BASE;
    }
    k + (BASE - TMIN + 1) * delta / (delta + SKEW)
}

#[cfg(test)]
mod tests {
    use super::{a_label_len, is_ipv4, is_ipv6};

    #[test]
    fn a_label_lengths_match_known_encodings() {
        // RFC 3492 §7.1 and well-known IDNs.
        assert_eq!(a_label_len("bücher"), Some("xn--bcher-kva".len()));
        assert_eq!(a_label_len("münchen"), Some("xn--mnchen-3ya".len()));
        assert_eq!(a_label_len("例え"), Some("xn--r8jz45g".len()));
        assert_eq!(a_label_len("ü"), Some("xn--tda".len()));
        // (A) Arabic (Egyptian), RFC 3492 §7.1.
        assert_eq!(
            a_label_len("ليهمابتكلموشعربي؟"),
            Some("xn--egbpdaj6bu4bxfgehfvwxn".len())
        );
        // (L) Japanese "3年B組金八先生", RFC 3492 §7.1.
        assert_eq!(
            a_label_len("3年B組金八先生"),
            Some("xn--3B-ww4c5e180e575a65lsy2b".len())
        );
        assert_eq!(a_label_len(&"ü".repeat(60)), None);
    }

    #[test]
    fn ip_literal_helpers() {
        assert!(is_ipv4("0.0.0.0"));
        assert!(is_ipv4("255.255.255.255"));
        assert!(is_ipv4("001.02.3.4"));
        assert!(!is_ipv4("256.1.1.1"));
        assert!(!is_ipv4("1.2.3"));
        assert!(!is_ipv4("1.2.3.4.5"));
        assert!(!is_ipv4("1..3.4"));
        assert!(!is_ipv4("1.2.3.0004"));
        assert!(!is_ipv4("+1.2.3.4"));
        for ok in [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6::",
            "::1:2:3:4:5:6",
            "1:2:3::4:5:6",
            "::ffff:192.0.2.1",
            "1:2:3:4:5:6:192.0.2.1",
            "1:2::3:4:192.0.2.1",
            "::192.0.2.1",
        ] {
            assert!(is_ipv6(ok), "{ok}");
        }
        for bad in [
            "",
            ":",
            ":::",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::",
            "1::2::3",
            "12345::",
            "g::1",
            "1:2:3:4:5:192.0.2.1",
            "1:2:3:4:5::192.0.2.1",
            "::1:2:3:4:5:192.0.2.1",
            "1::2:",
            ":1::2",
            "::256.0.0.1",
            "1.2.3.4",
        ] {
            assert!(!is_ipv6(bad), "{bad}");
        }
    }
}
