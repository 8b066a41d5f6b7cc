//! Unit tables for the address types.

use super::{AddressError, Domain, ForwardPath, Mailbox, ReversePath};

/// The control characters and separators every hostile table tries.
const HOSTILE: &[char] = &[
    '\r', '\n', '\0', '\t', '\x7f', '\x1b', '\u{85}', '\u{2028}', '\u{2029}', '\u{202E}',
    '\u{200B}', '\u{FEFF}', '\u{A0}',
];

#[test]
fn valid_domains() {
    for (input, ascii) in [
        ("example.org", true),
        ("localhost", true),
        ("a", true),
        ("1", true),
        ("123.example", true),
        ("a-b.c-d.e", true),
        ("a--b.example", true),
        ("xn--bcher-kva.example", true),
        ("EXAMPLE.Org", true),
        ("1.2.3.4", true),
        ("bücher.example", false),
        ("例子.广告", false),
        ("пример.испытание", false),
        ("a\u{200D}b.example", false), // ZWJ is allowed (some scripts need it)
    ] {
        let d = Domain::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(d.as_str(), input);
        assert_eq!(d.to_string(), input);
        assert_eq!(d.is_ascii(), ascii, "{input}");
        assert!(!d.is_address_literal());
        assert_eq!(input.parse::<Domain>().unwrap(), d);
        assert_eq!(Domain::try_from(input).unwrap(), d);
    }
}

#[test]
fn domain_length_limits() {
    let label63 = "a".repeat(63);
    assert!(Domain::parse(&label63).is_ok());
    assert_eq!(
        Domain::parse(&"a".repeat(64)),
        Err(AddressError::LabelTooLong { offset: 0 })
    );
    assert_eq!(
        Domain::parse(&format!("x.{}", "a".repeat(64))),
        Err(AddressError::LabelTooLong { offset: 2 })
    );
    // 4 × 63 + 3 dots = 255: the limit itself.
    let max = [label63.as_str(); 4].join(".");
    assert_eq!(max.len(), 255);
    assert!(Domain::parse(&max).is_ok());
    assert_eq!(
        Domain::parse(&format!("{max}a")),
        Err(AddressError::LabelTooLong { offset: 192 })
    );
    assert_eq!(
        Domain::parse(&format!("a.{max}")),
        Err(AddressError::DomainTooLong)
    );
    // U-labels are measured as A-labels (lengths checked against Python's
    // punycode codec). 57 × "ü" is 114 UTF-8 octets, A-label exactly 63.
    assert!(Domain::parse(&"ü".repeat(57)).is_ok());
    assert_eq!(
        Domain::parse(&"ü".repeat(58)),
        Err(AddressError::LabelTooLong { offset: 0 })
    );
    // 21 spread-out CJK characters: 63 UTF-8 octets, but a 67-octet A-label.
    let spread = "一凥嗊妯嶔慹敞楃洨焍瓲磗粼股蒆衫豐逵鐚響鯤";
    assert_eq!(spread.len(), 63);
    assert_eq!(
        Domain::parse(&format!("x.{spread}")),
        Err(AddressError::LabelTooLong { offset: 2 })
    );
    // 18 of them: 54 UTF-8 octets, 58-octet A-label.
    assert!(Domain::parse("一凥嗊妯嶔慹敞楃洨焍瓲磗粼股蒆衫豐逵").is_ok());
    // A huge input is refused quickly and without panicking.
    let huge = "ü".repeat(100_000);
    assert!(matches!(
        Domain::parse(&huge),
        Err(AddressError::LabelTooLong { .. })
    ));
}

#[test]
fn invalid_domains() {
    use AddressError::*;
    let cases: &[(&str, AddressError)] = &[
        ("", EmptyDomain),
        (
            ".",
            InvalidDomain {
                offset: 0,
                reason: "empty label (leading, trailing or doubled '.')",
            },
        ),
        (
            "example.org.",
            InvalidDomain {
                offset: 12,
                reason: "empty label (leading, trailing or doubled '.')",
            },
        ),
        (
            ".example",
            InvalidDomain {
                offset: 0,
                reason: "empty label (leading, trailing or doubled '.')",
            },
        ),
        (
            "a..b",
            InvalidDomain {
                offset: 2,
                reason: "empty label (leading, trailing or doubled '.')",
            },
        ),
        (
            "-a.b",
            InvalidDomain {
                offset: 0,
                reason: "label starts or ends with '-'",
            },
        ),
        (
            "a-.b",
            InvalidDomain {
                offset: 0,
                reason: "label starts or ends with '-'",
            },
        ),
        (
            "a.b-",
            InvalidDomain {
                offset: 2,
                reason: "label starts or ends with '-'",
            },
        ),
        (
            "ab--ü.example",
            InvalidDomain {
                offset: 0,
                reason: "U-label with '--' in the third and fourth positions",
            },
        ),
        ("a_b.example", ForbiddenCharacter { ch: '_', offset: 1 }),
        ("a b", ForbiddenCharacter { ch: ' ', offset: 1 }),
        ("a@b", ForbiddenCharacter { ch: '@', offset: 1 }),
        ("b>", ForbiddenCharacter { ch: '>', offset: 1 }),
        ("b> SIZE=1", ForbiddenCharacter { ch: '>', offset: 1 }),
        (
            "例子。广告",
            ForbiddenCharacter {
                ch: '\u{3002}',
                offset: 6,
            },
        ),
        (
            "[1.2.3.4",
            InvalidAddressLiteral {
                reason: "missing closing ']'",
            },
        ),
        ("1.2.3.4]", ForbiddenCharacter { ch: ']', offset: 7 }),
    ];
    for (input, expected) in cases {
        assert_eq!(&Domain::parse(input).unwrap_err(), expected, "{input:?}");
    }
}

#[test]
fn address_literals() {
    for ok in [
        "[192.0.2.1]",
        "[0.0.0.0]",
        "[255.255.255.255]",
        "[IPv6:2001:db8::1]",
        "[ipv6:::1]",
        "[IPv6:::ffff:192.0.2.1]",
        "[IPv6:1:2:3:4:5:6:7:8]",
        "[x-tag:anything!goes~here]",
        "[tag-1:a=b]",
    ] {
        let d = Domain::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert!(d.is_address_literal());
        assert!(d.is_ascii());
        assert_eq!(d.as_str(), ok);
    }
    use AddressError::*;
    let bad: &[(&str, AddressError)] = &[
        (
            "[]",
            InvalidAddressLiteral {
                reason: "empty address literal",
            },
        ),
        (
            "[256.0.0.1]",
            InvalidAddressLiteral {
                reason: "not an IPv4 address and no 'tag:' prefix",
            },
        ),
        (
            "[1.2.3]",
            InvalidAddressLiteral {
                reason: "not an IPv4 address and no 'tag:' prefix",
            },
        ),
        (
            "[example.org]",
            InvalidAddressLiteral {
                reason: "not an IPv4 address and no 'tag:' prefix",
            },
        ),
        (
            "[IPv6:1::2::3]",
            InvalidAddressLiteral {
                reason: "invalid IPv6 address",
            },
        ),
        (
            "[IPv6:12345::]",
            InvalidAddressLiteral {
                reason: "invalid IPv6 address",
            },
        ),
        (
            "[IPv6:1.2.3.4]",
            InvalidAddressLiteral {
                reason: "invalid IPv6 address",
            },
        ),
        (
            "[-:x]",
            InvalidAddressLiteral {
                reason: "the tag is not letters, digits and '-' ending in a letter or digit",
            },
        ),
        (
            "[:x]",
            InvalidAddressLiteral {
                reason: "the tag is not letters, digits and '-' ending in a letter or digit",
            },
        ),
        (
            "[tag:]",
            InvalidAddressLiteral {
                reason: "nothing after the tag",
            },
        ),
        (
            "[1.2.3.4] ",
            InvalidAddressLiteral {
                reason: "missing closing ']'",
            },
        ),
        ("[1.2.3.4 ]", ForbiddenCharacter { ch: ' ', offset: 8 }),
        ("[a:b[c]", ForbiddenCharacter { ch: '[', offset: 4 }),
        (
            "[a:b\\c]",
            ForbiddenCharacter {
                ch: '\\',
                offset: 4,
            },
        ),
        ("[a:b]c]", ForbiddenCharacter { ch: ']', offset: 4 }),
        (
            "[a:é]",
            ForbiddenCharacter {
                ch: 'é', offset: 3
            },
        ),
    ];
    for (input, expected) in bad {
        assert_eq!(&Domain::parse(input).unwrap_err(), expected, "{input:?}");
    }
    let long = format!("[x:{}]", "a".repeat(260));
    assert_eq!(Domain::parse(&long), Err(DomainTooLong));
}

#[test]
fn hostile_domains() {
    for &c in HOSTILE {
        for input in [
            format!("a{c}b.example"),
            format!("{c}example.org"),
            format!("example.org{c}"),
            format!("[1.2.3.4{c}]"),
            format!("[IPv6:::1{c}]"),
            format!("[x:a{c}b]"),
        ] {
            match Domain::parse(&input) {
                Err(AddressError::ForbiddenCharacter { ch, .. }) => assert_eq!(ch, c, "{input:?}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn valid_mailboxes() {
    for (input, local, domain, utf8) in [
        ("a@b", "a", "b", false),
        ("user@example.org", "user", "example.org", false),
        ("first.last@example.org", "first.last", "example.org", false),
        ("a+tag@example.org", "a+tag", "example.org", false),
        ("!#$%&'*+-/=?^_`{|}~@x", "!#$%&'*+-/=?^_`{|}~", "x", false),
        ("\"a b\"@example.org", "\"a b\"", "example.org", false),
        ("\"\"@example.org", "\"\"", "example.org", false),
        ("\"a\\\"b\"@x", "\"a\\\"b\"", "x", false),
        ("\"a\\\\\"@x", "\"a\\\\\"", "x", false),
        ("\"a@b\"@x", "\"a@b\"", "x", false),
        ("\"a>b<c\"@x", "\"a>b<c\"", "x", false),
        ("\"..\"@x", "\"..\"", "x", false),
        ("\"\\ \"@x", "\"\\ \"", "x", false),
        ("user@[192.0.2.1]", "user", "[192.0.2.1]", false),
        (
            "user@[IPv6:2001:db8::1]",
            "user",
            "[IPv6:2001:db8::1]",
            false,
        ),
        ("Postmaster@example.org", "Postmaster", "example.org", false),
        ("jörg@example.org", "jörg", "example.org", true),
        ("user@bücher.example", "user", "bücher.example", true),
        ("用户@例子.广告", "用户", "例子.广告", true),
        ("\"jö rg\"@x", "\"jö rg\"", "x", true),
        (
            &format!("{}@x", "a".repeat(200)),
            &"a".repeat(200),
            "x",
            false,
        ),
    ] {
        let m = Mailbox::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(m.local_part(), local, "{input}");
        assert_eq!(m.domain().as_str(), domain, "{input}");
        assert_eq!(m.needs_smtputf8(), utf8, "{input}");
        assert_eq!(m.is_quoted(), local.starts_with('"'));
        assert_eq!(m.to_string(), input);
        assert_eq!(input.parse::<Mailbox>().unwrap(), m);
        assert_eq!(Mailbox::try_from(input).unwrap(), m);
        assert_eq!(
            Mailbox::new(local, Domain::parse(domain).unwrap()).unwrap(),
            m
        );
    }
}

#[test]
fn invalid_mailboxes() {
    use AddressError::*;
    let cases: &[(&str, AddressError)] = &[
        ("", Empty),
        ("a", MissingAt),
        ("ab.cd", MissingAt),
        ("@b", EmptyLocalPart),
        ("a@", EmptyDomain),
        ("a@@b", ForbiddenCharacter { ch: '@', offset: 2 }),
        ("a@b@c", ForbiddenCharacter { ch: '@', offset: 3 }),
        (
            ".a@b",
            InvalidLocalPart {
                offset: 0,
                reason: "the local part starts with '.'",
            },
        ),
        (
            "a.@b",
            InvalidLocalPart {
                offset: 1,
                reason: "the local part ends with '.'",
            },
        ),
        (
            "a..b@c",
            InvalidLocalPart {
                offset: 2,
                reason: "two consecutive dots in the local part",
            },
        ),
        ("a b@c", ForbiddenCharacter { ch: ' ', offset: 1 }),
        ("a(b)@c", ForbiddenCharacter { ch: '(', offset: 1 }),
        ("a,b@c", ForbiddenCharacter { ch: ',', offset: 1 }),
        ("a\"b@c", ForbiddenCharacter { ch: '"', offset: 1 }),
        (
            "a\\b@c",
            ForbiddenCharacter {
                ch: '\\',
                offset: 1,
            },
        ),
        ("<a@b>", ForbiddenCharacter { ch: '<', offset: 0 }),
        ("a@b>", ForbiddenCharacter { ch: '>', offset: 3 }),
        ("a@b> SIZE=1", ForbiddenCharacter { ch: '>', offset: 3 }),
        ("a@b SIZE=1", ForbiddenCharacter { ch: ' ', offset: 3 }),
        (
            "\"a",
            InvalidLocalPart {
                offset: 0,
                reason: "unterminated quoted string",
            },
        ),
        (
            "\"a\\\"@b",
            InvalidLocalPart {
                offset: 0,
                reason: "unterminated quoted string",
            },
        ),
        (
            "\"a\\",
            InvalidLocalPart {
                offset: 2,
                reason: "the quoted string ends with a lone backslash",
            },
        ),
        (
            "\"a\"b@c",
            InvalidLocalPart {
                offset: 3,
                reason: "the quoted string is not followed by '@'",
            },
        ),
        ("\"a\"", MissingAt),
        ("\"a\"@", EmptyDomain),
        (
            "\"a\\é\"@b",
            ForbiddenCharacter {
                ch: 'é', offset: 3
            },
        ),
        (
            "a@b.",
            InvalidDomain {
                offset: 4,
                reason: "empty label (leading, trailing or doubled '.')",
            },
        ),
        (
            "a@-b",
            InvalidDomain {
                offset: 2,
                reason: "label starts or ends with '-'",
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(&Mailbox::parse(input).unwrap_err(), expected, "{input:?}");
    }
    let d = Domain::parse("x").unwrap();
    assert_eq!(Mailbox::new("", d.clone()), Err(EmptyLocalPart));
    assert_eq!(
        Mailbox::new("a@b", d.clone()),
        Err(ForbiddenCharacter { ch: '@', offset: 1 })
    );
    assert_eq!(
        Mailbox::new("\"a\"b", d.clone()),
        Err(InvalidLocalPart {
            offset: 3,
            reason: "text after the closing quote"
        })
    );
    assert_eq!(
        Mailbox::new("a.", d),
        Err(InvalidLocalPart {
            offset: 1,
            reason: "the local part ends with '.'"
        })
    );
}

#[test]
fn hostile_mailboxes() {
    for &c in HOSTILE {
        for input in [
            format!("a{c}b@example.org"),
            format!("{c}a@example.org"),
            format!("a{c}@example.org"),
            format!("\"a{c}b\"@example.org"),
            format!("\"a\\{c}\"@example.org"),
            format!("a@exa{c}mple.org"),
            format!("a@example.org{c}"),
        ] {
            match Mailbox::parse(&input) {
                Err(AddressError::ForbiddenCharacter { ch, .. }) => assert_eq!(ch, c, "{input:?}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }
    // Smuggling through the local part or the domain.
    for input in [
        "a@b>\r\nRCPT TO:<c@d",
        "a>\r\nRCPT TO:<c@d",
        "\"a\r\n\"@b",
        "a@b\r\n.\r\n",
        "a@b\0",
    ] {
        assert!(Mailbox::parse(input).is_err(), "{input:?}");
        assert!(
            ReversePath::parse(&format!("<{input}>")).is_err(),
            "{input:?}"
        );
        assert!(
            ForwardPath::parse(&format!("<{input}>")).is_err(),
            "{input:?}"
        );
    }
}

#[test]
fn reverse_paths() {
    for null in ["", "<>"] {
        let p = ReversePath::parse(null).unwrap();
        assert!(p.is_null());
        assert_eq!(p.mailbox(), None);
        assert_eq!(p.to_string(), "<>");
        assert!(!p.needs_smtputf8());
    }
    assert_eq!(ReversePath::null(), ReversePath::default());
    for input in ["a@b", "<a@b>"] {
        let p = ReversePath::parse(input).unwrap();
        assert!(!p.is_null());
        assert_eq!(p.mailbox().unwrap().to_string(), "a@b");
        assert_eq!(p.to_string(), "<a@b>");
        assert_eq!(p, ReversePath::from(Mailbox::parse("a@b").unwrap()));
        assert_eq!(input.parse::<ReversePath>().unwrap(), p);
    }
    assert!(ReversePath::parse("<jörg@x>").unwrap().needs_smtputf8());
    assert_eq!(
        ReversePath::parse("\"a b\"@x").unwrap().to_string(),
        "<\"a b\"@x>"
    );
    use AddressError::*;
    let bad: &[(&str, AddressError)] = &[
        (
            "<",
            InvalidPath {
                reason: "'<' without a closing '>'",
            },
        ),
        (
            ">",
            InvalidPath {
                reason: "'>' without an opening '<'",
            },
        ),
        (
            "<a@b",
            InvalidPath {
                reason: "'<' without a closing '>'",
            },
        ),
        (
            "a@b>",
            InvalidPath {
                reason: "'>' without an opening '<'",
            },
        ),
        ("<<a@b>>", ForbiddenCharacter { ch: '<', offset: 1 }),
        ("<a b@c>", ForbiddenCharacter { ch: ' ', offset: 2 }),
        (
            " <a@b>",
            InvalidPath {
                reason: "'>' without an opening '<'",
            },
        ),
        (
            "<a@b> ",
            InvalidPath {
                reason: "'<' without a closing '>'",
            },
        ),
        (
            "<a@b> SIZE=1",
            InvalidPath {
                reason: "'<' without a closing '>'",
            },
        ),
        ("<a@b> <c@d>", ForbiddenCharacter { ch: '>', offset: 4 }),
        ("<@relay:a@b>", SourceRoute),
        ("<@r1,@r2:a@b>", SourceRoute),
        (
            "<\"a\\\">",
            InvalidLocalPart {
                offset: 1,
                reason: "unterminated quoted string",
            },
        ),
    ];
    for (input, expected) in bad {
        assert_eq!(
            &ReversePath::parse(input).unwrap_err(),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn forward_paths() {
    for input in ["Postmaster", "<Postmaster>", "postmaster", "<POSTMASTER>"] {
        let p = ForwardPath::parse(input).unwrap();
        assert!(p.is_postmaster());
        assert_eq!(p.mailbox(), None);
        assert_eq!(p.to_string(), "<Postmaster>");
        assert_eq!(p, ForwardPath::postmaster());
    }
    let p = ForwardPath::parse("<Postmaster@example.org>").unwrap();
    assert!(!p.is_postmaster());
    assert_eq!(p.to_string(), "<Postmaster@example.org>");
    for input in ["a@b", "<a@b>"] {
        let p = ForwardPath::parse(input).unwrap();
        assert_eq!(p.to_string(), "<a@b>");
        assert_eq!(p, ForwardPath::from(Mailbox::parse("a@b").unwrap()));
        assert_eq!(ForwardPath::try_from(input).unwrap(), p);
    }
    assert!(
        ForwardPath::parse("用户@例子.广告")
            .unwrap()
            .needs_smtputf8()
    );
    assert!(!ForwardPath::postmaster().needs_smtputf8());
    use AddressError::*;
    let bad: &[(&str, AddressError)] = &[
        ("", Empty),
        (
            "<>",
            InvalidPath {
                reason: "the null path <> is not a recipient",
            },
        ),
        (
            "<Postmaster",
            InvalidPath {
                reason: "'<' without a closing '>'",
            },
        ),
        (
            "Postmaster>",
            InvalidPath {
                reason: "'>' without an opening '<'",
            },
        ),
        ("Post master", ForbiddenCharacter { ch: ' ', offset: 4 }),
        ("<@relay:a@b>", SourceRoute),
        (
            "<a@b> NOTIFY=NEVER",
            InvalidPath {
                reason: "'<' without a closing '>'",
            },
        ),
    ];
    for (input, expected) in bad {
        assert_eq!(
            &ForwardPath::parse(input).unwrap_err(),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn errors_display_offsets() {
    let e = ReversePath::parse("<a b@c>").unwrap_err();
    assert_eq!(e.to_string(), "character ' ' is not allowed at byte 2");
    let e = Mailbox::parse("a@b\r\n").unwrap_err();
    assert_eq!(e.to_string(), "character '\\r' is not allowed at byte 3");
}

#[test]
fn name_addr_is_accepted_where_people_write_addresses() {
    let cases = [
        ("Alice <alice@example.org>", "alice@example.org"),
        ("  <bob@example.org>  ", "bob@example.org"),
        ("carol@example.org", "carol@example.org"),
        ("\"Dan <the man>\" <dan@example.org>", "dan@example.org"),
    ];
    for (input, want) in cases {
        let f = ForwardPath::parse_name_addr(input).unwrap();
        assert_eq!(f.to_string(), format!("<{want}>"), "{input}");
        let r = ReversePath::parse_name_addr(input).unwrap();
        assert_eq!(r.mailbox().unwrap().to_string(), want, "{input}");
    }
    assert!(ReversePath::parse_name_addr("<>").unwrap().is_null());
    // Still strict inside the brackets: no smuggled parameters.
    assert!(ForwardPath::parse_name_addr("Eve <e@x.org> NOTIFY=NEVER").is_err());
    assert!(ForwardPath::parse_name_addr("Eve <e@x.org SIZE=1>").is_err());
    // A control character anywhere is an injection attempt, not a name.
    for bad in [
        "a@x.test\r\nRCPT TO:<evil@x.test>",
        "a@x.test\r\n",
        "Eve\n <e@x.org>",
        "Eve\0 <e@x.org>",
    ] {
        assert!(ReversePath::parse_name_addr(bad).is_err(), "{bad:?}");
        assert!(ForwardPath::parse_name_addr(bad).is_err(), "{bad:?}");
    }
}
