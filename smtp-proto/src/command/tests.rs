//! Unit tables for command encoding.

use super::{
    BodyType, Command, CommandError, EsmtpParam, MailParams, Mechanism, Notify, Orcpt, RcptParams,
    Ret,
};
use crate::Secret;
use crate::address::{AddressError, Domain, ForwardPath, Mailbox, ReversePath};

/// Control bytes and separators the hostile tables put in every argument.
const HOSTILE: &[char] = &[
    '\r', '\n', '\0', '\t', '\x7f', '\x1b', '\x01', '\x1f', '\u{85}', '\u{2028}', '\u{2029}',
    '\u{202E}', '\u{FEFF}',
];

fn encode(cmd: &Command) -> Result<String, CommandError> {
    let mut out = b"previous".to_vec();
    match cmd.encode(&mut out) {
        Ok(()) => {
            let line = out.split_off(8);
            assert_eq!(out, b"previous");
            Ok(String::from_utf8(line).unwrap())
        }
        Err(e) => {
            assert_eq!(out, b"previous", "output changed on error {e:?}");
            Err(e)
        }
    }
}

fn ok(cmd: &Command) -> String {
    encode(cmd).unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

fn mailbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap()
}

fn mail(from: &str, params: MailParams) -> Command {
    Command::Mail {
        from: ReversePath::parse(from).unwrap(),
        params,
    }
}

fn rcpt(to: &str, params: RcptParams) -> Command {
    Command::Rcpt {
        to: ForwardPath::parse(to).unwrap(),
        params,
    }
}

fn auth(mech: Mechanism, ir: Option<&[u8]>) -> Command {
    Command::Auth {
        mechanism: mech,
        initial_response: ir.map(|r| Secret::new(r.to_vec())),
    }
}

#[test]
fn simple_commands() {
    let table: Vec<(Command, &str)> = vec![
        (
            Command::Ehlo(domain("client.example")),
            "EHLO client.example\r\n",
        ),
        (Command::Ehlo(domain("[192.0.2.1]")), "EHLO [192.0.2.1]\r\n"),
        (
            Command::Helo(domain("client.example")),
            "HELO client.example\r\n",
        ),
        (
            Command::Lhlo(domain("client.example")),
            "LHLO client.example\r\n",
        ),
        (Command::StartTls, "STARTTLS\r\n"),
        (Command::Data, "DATA\r\n"),
        (
            Command::Bdat {
                size: 0,
                last: true,
            },
            "BDAT 0 LAST\r\n",
        ),
        (
            Command::Bdat {
                size: 123,
                last: false,
            },
            "BDAT 123\r\n",
        ),
        (
            Command::Bdat {
                size: u64::MAX,
                last: true,
            },
            "BDAT 18446744073709551615 LAST\r\n",
        ),
        (Command::Rset, "RSET\r\n"),
        (Command::Noop, "NOOP\r\n"),
        (Command::Quit, "QUIT\r\n"),
        (Command::Vrfy("postmaster".into()), "VRFY postmaster\r\n"),
        (Command::Vrfy("John Smith".into()), "VRFY John Smith\r\n"),
        (
            Command::Expn("list@example.org".into()),
            "EXPN list@example.org\r\n",
        ),
        (Command::Help(None), "HELP\r\n"),
        (Command::Help(Some("MAIL".into())), "HELP MAIL\r\n"),
        (Command::Raw("XCLIENT NAME=x".into()), "XCLIENT NAME=x\r\n"),
        (Command::Raw(".".into()), ".\r\n"),
        (Command::AuthCancel, "*\r\n"),
    ];
    for (cmd, wire) in table {
        assert_eq!(ok(&cmd), wire, "{cmd:?}");
        assert!(!cmd.is_sensitive());
        assert!(!cmd.needs_smtputf8());
    }
}

#[test]
fn auth_commands() {
    assert_eq!(
        ok(&auth(Mechanism::PLAIN, Some(b"\0a\0b"))),
        "AUTH PLAIN AGEAYg==\r\n"
    );
    assert_eq!(ok(&auth(Mechanism::PLAIN, Some(b""))), "AUTH PLAIN =\r\n");
    assert_eq!(ok(&auth(Mechanism::LOGIN, None)), "AUTH LOGIN\r\n");
    assert_eq!(ok(&auth(Mechanism::CRAM_MD5, None)), "AUTH CRAM-MD5\r\n");
    assert_eq!(
        ok(&auth(Mechanism::parse("scram-sha-256").unwrap(), None)),
        "AUTH SCRAM-SHA-256\r\n"
    );
    assert_eq!(
        ok(&auth(
            Mechanism::XOAUTH2,
            Some(b"user=u\x01auth=Bearer t\x01\x01")
        )),
        "AUTH XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIHQBAQ==\r\n"
    );
    // Response bytes are arbitrary: base64 keeps them off the wire.
    let resp = Command::AuthResponse(Secret::new(b"\r\n.\r\n\0".to_vec()));
    assert_eq!(ok(&resp), "DQouDQoA\r\n");
    // An empty response to a challenge is an empty line (not "=").
    assert_eq!(ok(&Command::AuthResponse(Secret::new(Vec::new()))), "\r\n");
    for cmd in [
        auth(Mechanism::PLAIN, Some(b"x")),
        auth(Mechanism::LOGIN, None),
        Command::AuthResponse(Secret::new(b"pw".to_vec())),
    ] {
        assert!(cmd.is_sensitive());
        assert_eq!(cmd.verb(), "AUTH");
        assert!(!cmd.needs_smtputf8());
        // Debug never shows the secret.
        assert!(!format!("{cmd:?}").contains("120")); // b'x'
    }
    assert!(
        !format!(
            "{:?}",
            Command::AuthResponse(Secret::new(b"hunter2".to_vec()))
        )
        .contains("104")
    );
    assert_eq!(Command::AuthCancel.verb(), "AUTH");
}

#[test]
fn mechanism_names() {
    assert_eq!(Mechanism::parse("plain").unwrap(), Mechanism::PLAIN);
    assert_eq!(Mechanism::parse("Cram-Md5").unwrap(), Mechanism::CRAM_MD5);
    assert_eq!(
        Mechanism::parse("OAUTHBEARER").unwrap(),
        Mechanism::OAUTHBEARER
    );
    assert_eq!("login".parse::<Mechanism>().unwrap().as_str(), "LOGIN");
    assert_eq!(Mechanism::try_from("X_Y-1").unwrap().to_string(), "X_Y-1");
    assert!(Mechanism::parse(&"A".repeat(20)).is_ok());
    for bad in [
        "",
        "A".repeat(21).as_str(),
        "PL AIN",
        "PLAIN\r\n",
        "PLÄIN",
        "A=B",
        "*",
    ] {
        assert!(
            matches!(
                Mechanism::parse(bad),
                Err(CommandError::InvalidMechanism { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn mail_commands() {
    assert_eq!(ok(&mail("<>", MailParams::new())), "MAIL FROM:<>\r\n");
    assert_eq!(ok(&mail("a@b", MailParams::new())), "MAIL FROM:<a@b>\r\n");
    assert_eq!(
        ok(&mail("\"a b\"@b", MailParams::new())),
        "MAIL FROM:<\"a b\"@b>\r\n"
    );
    let mut all = MailParams::new();
    all.size = Some(1000);
    all.body = Some(BodyType::EightBitMime);
    all.smtputf8 = true;
    all.ret = Some(Ret::Headers);
    all.envid = Some("x+".into());
    all.requiretls = true;
    all.auth = Some(ReversePath::null());
    assert_eq!(
        ok(&mail("a@b", all.clone())),
        "MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x+2B REQUIRETLS AUTH=<>\r\n"
    );
    all.extra
        .push(EsmtpParam::new("MT-PRIORITY", Some("3")).unwrap());
    all.extra.push(EsmtpParam::new("X-FLAG", None).unwrap());
    all.auth = Some(ReversePath::parse("e+x=y@b").unwrap());
    all.body = Some(BodyType::BinaryMime);
    all.ret = Some(Ret::Full);
    all.envid = Some("id 1=2".into());
    assert_eq!(
        ok(&mail("<a@b>", all)),
        "MAIL FROM:<a@b> SIZE=1000 BODY=BINARYMIME SMTPUTF8 RET=FULL ENVID=id+201+3D2 \
         REQUIRETLS AUTH=e+2Bx+3Dy@b MT-PRIORITY=3 X-FLAG\r\n"
    );
    let mut seven = MailParams::new();
    seven.body = Some(BodyType::SevenBit);
    assert_eq!(ok(&mail("<>", seven)), "MAIL FROM:<> BODY=7BIT\r\n");
    let cmd = mail("a@b", MailParams::new());
    assert_eq!(cmd.verb(), "MAIL");
    assert!(!cmd.is_sensitive());
}

#[test]
fn rcpt_commands() {
    assert_eq!(ok(&rcpt("a@b", RcptParams::new())), "RCPT TO:<a@b>\r\n");
    assert_eq!(
        ok(&rcpt("Postmaster", RcptParams::new())),
        "RCPT TO:<Postmaster>\r\n"
    );
    let mut p = RcptParams::new();
    p.notify = Some(Notify::SUCCESS | Notify::FAILURE);
    p.orcpt = Some(Orcpt::rfc822(&mailbox("a@b")));
    assert_eq!(
        ok(&rcpt("a@b", p)),
        "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b\r\n"
    );
    let mut p = RcptParams::new();
    p.notify = Some(Notify::never());
    p.orcpt = Some(Orcpt::rfc822(&mailbox("\"a b+c\"@b")));
    p.extra
        .push(EsmtpParam::new("RRVS", Some("2014-04-03T23:01:00Z")).unwrap());
    assert_eq!(
        ok(&rcpt("<c@d>", p)),
        "RCPT TO:<c@d> NOTIFY=NEVER ORCPT=rfc822;\"a+20b+2Bc\"@b RRVS=2014-04-03T23:01:00Z\r\n"
    );
    let mut p = RcptParams::new();
    p.notify = Some(Notify::new(true, true, true));
    p.orcpt = Some(Orcpt::new("x400", "c=US;a= ;p=x").unwrap());
    assert_eq!(
        ok(&rcpt("a@b", p)),
        "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=x400;c+3DUS;a+3D+20;p+3Dx\r\n"
    );
    assert_eq!(rcpt("a@b", RcptParams::new()).verb(), "RCPT");
}

#[test]
fn notify_values() {
    let table = [
        (Notify::never(), "NEVER"),
        (Notify::SUCCESS, "SUCCESS"),
        (Notify::FAILURE, "FAILURE"),
        (Notify::DELAY, "DELAY"),
        (Notify::DELAY | Notify::SUCCESS, "SUCCESS,DELAY"),
        (Notify::FAILURE | Notify::DELAY, "FAILURE,DELAY"),
        (Notify::NEVER | Notify::FAILURE, "FAILURE"),
        (Notify::new(true, false, true), "SUCCESS,DELAY"),
    ];
    for (n, s) in table {
        assert_eq!(n.to_string(), s);
    }
    assert!(Notify::new(false, false, false).is_never());
    let n = Notify::SUCCESS | Notify::DELAY;
    assert!(n.on_success() && !n.on_failure() && n.on_delay() && !n.is_never());
}

#[test]
fn utf8_addresses_and_orcpt() {
    let mut p = MailParams::new();
    p.smtputf8 = true;
    let cmd = mail("<jörg@bücher.example>", p);
    assert_eq!(ok(&cmd), "MAIL FROM:<jörg@bücher.example> SMTPUTF8\r\n");
    assert!(cmd.needs_smtputf8());

    // ORCPT with a UTF-8 original recipient: utf-8 addr-type, 7-bit form.
    let mut p = RcptParams::new();
    p.orcpt = Some(Orcpt::rfc822(&mailbox("用户+x@例子.广告")));
    let cmd = rcpt("a@b", p);
    assert_eq!(
        ok(&cmd),
        "RCPT TO:<a@b> ORCPT=utf-8;\\x{7528}\\x{6237}\\x{2B}x@\\x{4F8B}\\x{5B50}.\\x{5E7F}\\x{544A}\r\n"
    );
    assert!(!cmd.needs_smtputf8());
    let o = Orcpt::from(&mailbox("jörg@x"));
    assert_eq!(o.addr_type(), "utf-8");
    assert_eq!(o.encoded_address(), "j\\x{F6}rg@x");
    assert_eq!(Orcpt::rfc822(&mailbox("a@b")).addr_type(), "rfc822");

    let cmd = rcpt("用户@例子.广告", RcptParams::new());
    assert!(cmd.needs_smtputf8());
    assert_eq!(ok(&cmd), "RCPT TO:<用户@例子.广告>\r\n");

    // AUTH= with a UTF-8 mailbox is xtext (7-bit) but still internationalized.
    let mut p = MailParams::new();
    p.auth = Some(ReversePath::parse("jörg@x").unwrap());
    let cmd = mail("a@b", p);
    assert_eq!(ok(&cmd), "MAIL FROM:<a@b> AUTH=j+C3+B6rg@x\r\n");
    assert!(cmd.needs_smtputf8());

    // Non-ASCII ESMTP value.
    let mut p = RcptParams::new();
    p.extra
        .push(EsmtpParam::new("X-NAME", Some("Jörg")).unwrap());
    let cmd = rcpt("a@b", p);
    assert!(cmd.needs_smtputf8());
    assert_eq!(ok(&cmd), "RCPT TO:<a@b> X-NAME=Jörg\r\n");

    assert!(Command::Ehlo(domain("bücher.example")).needs_smtputf8());
    assert!(Command::Vrfy("jörg".into()).needs_smtputf8());
    assert!(Command::Expn("jörg".into()).needs_smtputf8());
    assert!(Command::Help(Some("ü".into())).needs_smtputf8());
    assert!(Command::Raw("NOOP ü".into()).needs_smtputf8());
    assert!(!Command::Raw("NOOP u".into()).needs_smtputf8());
}

#[test]
fn esmtp_params() {
    let p = EsmtpParam::new("HOLDFOR", Some("60")).unwrap();
    assert_eq!(p.keyword(), "HOLDFOR");
    assert_eq!(p.value(), Some("60"));
    assert_eq!(p.to_string(), "HOLDFOR=60");
    assert!(!p.needs_smtputf8());
    assert_eq!(EsmtpParam::new("1X", None).unwrap().to_string(), "1X");
    assert!(EsmtpParam::new("X", Some("<>!~")).is_ok());
    for (kw, val) in [
        ("", None),
        ("-X", None),
        ("X_Y", None),
        ("X Y", None),
        ("X=", None),
        ("XÄ", None),
        ("X", Some("")),
        ("X", Some("a=b")),
        ("X", Some("a b")),
        ("X", Some("a\u{A0}b")),
    ] {
        assert!(
            matches!(
                EsmtpParam::new(kw, val),
                Err(CommandError::InvalidParameter { .. })
            ),
            "{kw:?} {val:?}"
        );
    }
}

#[test]
fn duplicate_parameters_are_refused() {
    let mut p = MailParams::new();
    p.size = Some(1);
    p.extra.push(EsmtpParam::new("size", Some("2")).unwrap());
    assert_eq!(
        encode(&mail("a@b", p)),
        Err(CommandError::DuplicateParameter {
            keyword: "size".into()
        })
    );
    let mut p = MailParams::new();
    p.extra.push(EsmtpParam::new("X", None).unwrap());
    p.extra.push(EsmtpParam::new("x", Some("1")).unwrap());
    assert!(matches!(
        encode(&mail("a@b", p)),
        Err(CommandError::DuplicateParameter { .. })
    ));
    let mut p = RcptParams::new();
    p.notify = Some(Notify::never());
    p.extra
        .push(EsmtpParam::new("NOTIFY", Some("SUCCESS")).unwrap());
    assert!(matches!(
        encode(&rcpt("a@b", p)),
        Err(CommandError::DuplicateParameter { .. })
    ));
    // The same keyword as a typed parameter that is not set is fine.
    let mut p = MailParams::new();
    p.extra.push(EsmtpParam::new("SIZE", Some("5")).unwrap());
    assert_eq!(ok(&mail("a@b", p)), "MAIL FROM:<a@b> SIZE=5\r\n");
    // Only parameters count: a quoted local part that looks like one
    // (the writer finds earlier keywords in the line after the path).
    let mut p = MailParams::new();
    p.size = Some(7);
    assert_eq!(
        ok(&mail("\"x SIZE=1\"@b", p)),
        "MAIL FROM:<\"x SIZE=1\"@b> SIZE=7\r\n"
    );
}

#[test]
fn envid_rules() {
    let with = |id: &str| {
        let mut p = MailParams::new();
        p.envid = Some(id.into());
        encode(&mail("a@b", p))
    };
    assert_eq!(with("abc").unwrap(), "MAIL FROM:<a@b> ENVID=abc\r\n");
    assert_eq!(
        with(&"a".repeat(100)).unwrap().len(),
        "MAIL FROM:<a@b> ENVID=\r\n".len() + 100
    );
    for bad in ["", &"a".repeat(101), "é", "a\u{7f}"] {
        assert!(
            matches!(with(bad), Err(CommandError::InvalidParameter { ref keyword, .. }) if keyword == "ENVID"),
            "{bad:?}"
        );
    }
}

#[test]
fn orcpt_new_rules() {
    assert!(Orcpt::new("rfc822", "a@b").is_ok());
    for (t, a) in [
        ("", "a@b"),
        ("rfc+822", "a@b"),
        ("rfc=822", "a@b"),
        ("rfc 822", "a@b"),
        ("rfc822", ""),
        ("rfc822", "jörg@x"),
        ("rfc822", "a\r\nb"),
    ] {
        assert!(
            matches!(Orcpt::new(t, a), Err(CommandError::InvalidParameter { .. })),
            "{t:?} {a:?}"
        );
    }
}

#[test]
fn empty_arguments() {
    for (cmd, verb) in [
        (Command::Vrfy(String::new()), "VRFY"),
        (Command::Expn(String::new()), "EXPN"),
        (Command::Help(Some(String::new())), "HELP"),
        (Command::Raw(String::new()), "RAW"),
    ] {
        assert_eq!(encode(&cmd), Err(CommandError::EmptyArgument { verb }));
        assert_eq!(cmd.verb(), verb);
    }
}

/// Every free-form argument with every hostile character, at the start, in
/// the middle and at the end: refused, output untouched.
#[test]
fn hostile_free_form_arguments() {
    for &c in HOSTILE {
        for arg in [format!("{c}x"), format!("a{c}b"), format!("x{c}")] {
            for cmd in [
                Command::Vrfy(arg.clone()),
                Command::Expn(arg.clone()),
                Command::Help(Some(arg.clone())),
                Command::Raw(arg.clone()),
            ] {
                let err = encode(&cmd).unwrap_err();
                if c.is_ascii() {
                    assert!(
                        matches!(err, CommandError::ForbiddenByte { byte, .. } if char::from(byte) == c),
                        "{cmd:?}: {err:?}"
                    );
                } else {
                    assert!(
                        matches!(err, CommandError::ForbiddenCharacter { ch, .. } if ch == c),
                        "{cmd:?}: {err:?}"
                    );
                }
            }
        }
    }
    // Offsets count the verb.
    assert_eq!(
        encode(&Command::Vrfy("a\rb".into())),
        Err(CommandError::ForbiddenByte {
            byte: b'\r',
            offset: 6
        })
    );
    assert_eq!(
        encode(&Command::Raw("a\u{85}".into())),
        Err(CommandError::ForbiddenCharacter {
            ch: '\u{85}',
            offset: 1
        })
    );
}

#[test]
fn hostile_raw_lines() {
    for raw in [
        "\r\n.\r\n",
        "NOOP\r\nRSET",
        "NOOP\nQUIT",
        "DATA\r\n.\r\nMAIL FROM:<x@y>",
        "\r",
        "\n",
        "NOOP\r\n",
        " \t",
    ] {
        assert!(
            matches!(
                encode(&Command::Raw(raw.into())),
                Err(CommandError::ForbiddenByte { .. })
            ),
            "{raw:?}"
        );
    }
}

/// Every address argument and every parameter with every hostile
/// character: refused when the value is built, so no command can hold it.
#[test]
fn hostile_typed_arguments() {
    for &c in HOSTILE {
        let s = c.to_string();
        // Domains (EHLO/HELO/LHLO and after the @).
        for d in [format!("a{c}b"), format!("[1.2.3.4{c}]"), format!("a.b{c}")] {
            assert!(Domain::parse(&d).is_err(), "{d:?}");
        }
        // Local parts, dot-string and quoted.
        for m in [
            format!("a{c}b@c"),
            format!("\"a{c}b\"@c"),
            format!("\"a\\{c}\"@c"),
            format!("a@b{c}"),
        ] {
            assert!(Mailbox::parse(&m).is_err(), "{m:?}");
            assert!(ReversePath::parse(&format!("<{m}>")).is_err(), "{m:?}");
            assert!(ForwardPath::parse(&format!("<{m}>")).is_err(), "{m:?}");
        }
        // ESMTP keyword and value.
        assert!(EsmtpParam::new(&format!("X{c}"), None).is_err());
        assert!(EsmtpParam::new("X", Some(&format!("a{c}b"))).is_err());
        // Mechanism names.
        assert!(Mechanism::parse(&format!("PLAIN{s}")).is_err());
        // ORCPT from a string.
        assert!(Orcpt::new("rfc822", &format!("a{c}b@c")).is_err());
        assert!(Orcpt::new(&format!("rfc822{c}"), "a@b").is_err());
        // ENVID is a plain string field: refused at encode time.
        let mut p = MailParams::new();
        p.envid = Some(format!("id{c}"));
        assert!(matches!(
            encode(&mail("a@b", p)),
            Err(CommandError::InvalidParameter { .. })
        ));
    }
}

#[test]
fn parameter_smuggling_through_addresses() {
    for from in [
        "a@b> SIZE=1",
        "<a@b> SIZE=1>",
        "<a@b>\r\nRCPT TO:<c@d>",
        "a@b>\r\nRCPT TO:<c@d",
        "<\"a\\\"@b>",
        "<a@b\\>",
        "<\"a\\",
        "<a@b> AUTH=<>",
        "<a@[1.2.3.4] SIZE=1>",
        "<a@[1.2.3.4]> SIZE=1",
        "<a@b\0>",
    ] {
        assert!(ReversePath::parse(from).is_err(), "{from:?}");
        assert!(ForwardPath::parse(from).is_err(), "{from:?}");
    }
    // A quoted local part may hold '>' and spaces: that is legal and stays
    // inside the quotes on the wire.
    let cmd = mail("<\"a> SIZE=1\"@b>", MailParams::new());
    assert_eq!(ok(&cmd), "MAIL FROM:<\"a> SIZE=1\"@b>\r\n");
    // An escaped quote does not end the quoted string: all of this is one
    // local part, `"a\"> SIZE=1 "`.
    let path = ReversePath::parse("<\"a\\\"> SIZE=1 \"@b>").unwrap();
    assert_eq!(path.mailbox().unwrap().local_part(), "\"a\\\"> SIZE=1 \"");
    assert_eq!(path.mailbox().unwrap().domain().as_str(), "b");
}

#[test]
fn address_error_converts() {
    let e: CommandError = AddressError::Empty.into();
    assert_eq!(e, CommandError::Address(AddressError::Empty));
    assert_eq!(e.to_string(), "invalid address: the address is empty");
}

#[test]
fn verbs() {
    let table: Vec<(Command, &str)> = vec![
        (Command::Ehlo(domain("x")), "EHLO"),
        (Command::Helo(domain("x")), "HELO"),
        (Command::Lhlo(domain("x")), "LHLO"),
        (Command::StartTls, "STARTTLS"),
        (Command::Data, "DATA"),
        (
            Command::Bdat {
                size: 1,
                last: false,
            },
            "BDAT",
        ),
        (Command::Rset, "RSET"),
        (Command::Noop, "NOOP"),
        (Command::Quit, "QUIT"),
        (Command::Help(None), "HELP"),
        (Command::Raw("X".into()), "RAW"),
    ];
    for (cmd, verb) in table {
        assert_eq!(cmd.verb(), verb);
    }
}
