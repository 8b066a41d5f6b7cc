#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Property tests for command encoding: whatever goes into any argument,
//! `Command::encode` either appends exactly one clean line ending in CRLF,
//! or fails and leaves the output untouched.

use proptest::prelude::*;
use smtp_proto::Secret;
use smtp_proto::address::{Domain, ForwardPath, Mailbox, ReversePath};
use smtp_proto::command::{
    Command, EsmtpParam, MailParams, Mechanism, Notify, Orcpt, RcptParams, xtext_decode,
    xtext_encode,
};

const PREFIX: &[u8] = b"earlier bytes\r\n";

/// Arbitrary strings, plus strings made of the characters that matter here
/// (controls, separators, quotes, brackets, `@`, `=`, `+`, non-ASCII).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9@.<>\"\\\\ :;,=+\\[\\]()\r\n\t\x00\x01\x1b\x7f\u{85}\u{a0}\u{2028}\u{202e}éü用-]{0,24}",
        "[a-z]{1,8}(\\.[a-z]{1,8}){0,2}",
    ]
}

/// Strings that are mostly valid mailboxes, with an occasional hostile byte.
fn mailbox_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-z0-9]{1,5}){0,2}@[a-z0-9]{1,10}(\\.[a-z]{2,5}){0,2}",
        "\"([ !#-\\[\\]-~]|\\\\[ -~]){0,12}\"@[a-z]{1,8}\\.[a-z]{2,4}",
        "[a-zé用]{1,6}@(\\[[0-9]{1,3}(\\.[0-9]{1,3}){3}\\]|\\[IPv6:[0-9a-f:]{2,20}\\]|[a-zü]{1,8})",
        "<?[a-z\"\\\\ <>@\r\n\x00]{0,12}@[a-z.>\r\n ]{0,8}>?",
    ]
}

/// The invariant: `Ok` appended one line, CRLF-terminated, with no CR, LF,
/// C0 control, DEL, C1 control or Unicode line separator before the CRLF;
/// `Err` appended nothing. Returns the line without CRLF on success.
fn check(cmd: &Command) -> Result<Option<String>, TestCaseError> {
    let mut out = PREFIX.to_vec();
    match cmd.encode(&mut out) {
        Ok(()) => {
            prop_assert!(out.starts_with(PREFIX));
            let line = &out[PREFIX.len()..];
            prop_assert!(line.ends_with(b"\r\n"), "no CRLF: {:?}", line);
            let body = &line[..line.len() - 2];
            prop_assert!(
                !body.iter().any(|b| b.is_ascii_control()),
                "control byte in {:?}",
                body
            );
            let text = std::str::from_utf8(body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
                "control or separator in {:?}",
                text
            );
            Ok(Some(text.to_owned()))
        }
        Err(_) => {
            prop_assert_eq!(&out[..], PREFIX);
            Ok(None)
        }
    }
}

proptest! {
    #[test]
    fn free_form_arguments(arg in text()) {
        for cmd in [
            Command::Vrfy(arg.clone()),
            Command::Expn(arg.clone()),
            Command::Help(Some(arg.clone())),
            Command::Raw(arg.clone()),
        ] {
            if let Some(line) = check(&cmd)? {
                prop_assert!(line.ends_with(arg.as_str()));
                prop_assert!(!arg.is_empty());
                prop_assert_eq!(cmd.needs_smtputf8(), !arg.is_ascii());
            }
        }
    }

    #[test]
    fn hello_domains(s in text()) {
        if let Ok(domain) = Domain::parse(&s) {
            prop_assert_eq!(domain.as_str(), s.as_str());
            for (cmd, verb) in [
                (Command::Ehlo(domain.clone()), "EHLO"),
                (Command::Helo(domain.clone()), "HELO"),
                (Command::Lhlo(domain.clone()), "LHLO"),
            ] {
                let line = check(&cmd)?;
                prop_assert_eq!(line, Some(format!("{verb} {s}")));
            }
        }
    }

    #[test]
    fn mail_and_rcpt_paths(s in prop_oneof![text(), mailbox_like()]) {
        if let Ok(from) = ReversePath::parse(&s) {
            // The wire form parses back to the same path.
            prop_assert_eq!(&ReversePath::parse(&from.to_string()).unwrap(), &from);
            let cmd = Command::Mail { from: from.clone(), params: MailParams::default() };
            let line = check(&cmd)?;
            prop_assert_eq!(line, Some(format!("MAIL FROM:{from}")));
            prop_assert_eq!(cmd.needs_smtputf8(), !s.is_ascii());
        }
        if let Ok(to) = ForwardPath::parse(&s) {
            prop_assert_eq!(&ForwardPath::parse(&to.to_string()).unwrap(), &to);
            let cmd = Command::Rcpt { to: to.clone(), params: RcptParams::default() };
            let line = check(&cmd)?;
            prop_assert_eq!(line, Some(format!("RCPT TO:{to}")));
        }
        if let Ok(mailbox) = Mailbox::parse(&s) {
            prop_assert_eq!(mailbox.to_string(), s.clone());
            // ORCPT and AUTH= built from any valid mailbox are 7-bit and clean.
            let mut rp = RcptParams::default();
            rp.orcpt = Some(Orcpt::rfc822(&mailbox));
            rp.notify = Some(Notify::FAILURE | Notify::DELAY);
            let cmd = Command::Rcpt { to: ForwardPath::postmaster(), params: rp };
            let line = check(&cmd)?.unwrap();
            prop_assert!(line.is_ascii());
            prop_assert!(!cmd.needs_smtputf8());
            let mut mp = MailParams::default();
            mp.auth = Some(ReversePath::from(mailbox.clone()));
            let cmd = Command::Mail { from: ReversePath::null(), params: mp };
            let line = check(&cmd)?.unwrap();
            prop_assert!(line.is_ascii());
            // No space inside the AUTH= value: one parameter, not two.
            prop_assert_eq!(line.split(' ').count(), 3);
        }
    }

    #[test]
    fn mailbox_like_strings_mostly_parse(s in mailbox_like()) {
        // Exercise the positive path too: any parse result encodes cleanly.
        if let Ok(to) = ForwardPath::parse(&s) {
            check(&Command::Rcpt { to, params: RcptParams::default() })?;
        }
    }

    #[test]
    fn esmtp_params(keyword in text(), value in proptest::option::of(text())) {
        if let Ok(param) = EsmtpParam::new(&keyword, value.as_deref()) {
            let mut mp = MailParams::default();
            mp.extra.push(param.clone());
            let line = check(&Command::Mail { from: ReversePath::null(), params: mp })?.unwrap();
            prop_assert_eq!(line, format!("MAIL FROM:<> {param}"));
            let mut rp = RcptParams::default();
            rp.extra.push(param);
            check(&Command::Rcpt { to: ForwardPath::postmaster(), params: rp })?.unwrap();
        }
    }

    #[test]
    fn envid(id in text(), size in any::<u64>()) {
        let mut mp = MailParams::default();
        mp.envid = Some(id.clone());
        mp.size = Some(size);
        let line = check(&Command::Mail { from: ReversePath::null(), params: mp })?;
        if let Some(line) = line {
            let encoded = line.rsplit_once("ENVID=").unwrap().1;
            prop_assert_eq!(xtext_decode(encoded).unwrap(), id.as_bytes());
        }
    }

    #[test]
    fn orcpt_new(addr_type in text(), address in text()) {
        if let Ok(orcpt) = Orcpt::new(&addr_type, &address) {
            let mut rp = RcptParams::default();
            rp.orcpt = Some(orcpt);
            check(&Command::Rcpt { to: ForwardPath::postmaster(), params: rp })?.unwrap();
        }
    }

    #[test]
    fn auth_bytes(mech in text(), ir in proptest::option::of(any::<Vec<u8>>()), resp in any::<Vec<u8>>()) {
        let mechanism = Mechanism::parse(&mech).unwrap_or(Mechanism::PLAIN);
        let cmd = Command::Auth { mechanism, initial_response: ir.map(Secret::new) };
        check(&cmd)?.unwrap();
        prop_assert!(cmd.is_sensitive());
        check(&Command::AuthResponse(Secret::new(resp)))?.unwrap();
    }

    #[test]
    fn bdat(size in any::<u64>(), last in any::<bool>()) {
        let line = check(&Command::Bdat { size, last })?.unwrap();
        prop_assert_eq!(line, format!("BDAT {size}{}", if last { " LAST" } else { "" }));
    }

    #[test]
    fn xtext_roundtrip(bytes in any::<Vec<u8>>()) {
        let encoded = xtext_encode(&bytes);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic() && b != b'='));
        prop_assert_eq!(xtext_decode(&encoded).unwrap(), bytes);
    }

    #[test]
    fn xtext_decode_never_panics(s in prop_oneof![text(), "([!-*,-<>-~]|\\+[0-9A-Fa-f]{0,2}){0,16}"]) {
        // Not injective ("+41" and "A" both decode to b"A"), but canonical
        // re-encoding decodes to the same bytes.
        if let Ok(bytes) = xtext_decode(&s) {
            prop_assert_eq!(xtext_decode(&xtext_encode(&bytes)).unwrap(), bytes);
        }
    }
}

/// The generators reach the positive paths: a good share of the
/// mailbox-like strings are valid, so the encoding checks above run.
#[test]
fn generators_reach_valid_addresses() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = mailbox_like();
    let mut valid = 0;
    let mut utf8 = 0;
    for _ in 0..1000 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        if let Ok(path) = ForwardPath::parse(&s) {
            valid += 1;
            if path.needs_smtputf8() {
                utf8 += 1;
            }
        }
    }
    assert!(valid > 400, "only {valid} of 1000 valid");
    assert!(utf8 > 50, "only {utf8} of 1000 internationalized");
}
