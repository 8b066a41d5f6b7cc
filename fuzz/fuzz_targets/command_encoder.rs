#![no_main]
//! Command encoder: every command variant, built from fuzzed fields, either
//! appends exactly one line ending in CRLF with no CR, LF, C0 control, DEL,
//! C1 control or Unicode line separator before it, or fails and appends
//! nothing.
//!
//! Input layout: the first byte holds flags; the rest is split on 0xFF into
//! fields (domain, path, keyword, value, envid, ORCPT type, ORCPT address,
//! free text, mechanism, AUTH bytes, size). Missing fields are empty.

use libfuzzer_sys::fuzz_target;
use smtp_proto::Secret;
use smtp_proto::address::{Domain, ForwardPath, Mailbox, ReversePath};
use smtp_proto::command::{
    BodyType, Command, EsmtpParam, MailParams, Mechanism, Notify, Orcpt, RcptParams, Ret,
    xtext_decode, xtext_encode,
};

const PREFIX: &[u8] = b"before\r\n";

fn check(cmd: &Command) {
    let mut out = PREFIX.to_vec();
    match cmd.encode(&mut out) {
        Ok(()) => {
            assert!(out.starts_with(PREFIX));
            let line = &out[PREFIX.len()..];
            assert!(line.ends_with(b"\r\n"), "{cmd:?}");
            let body = &line[..line.len() - 2];
            assert!(!body.iter().any(u8::is_ascii_control), "{cmd:?}");
            let text = std::str::from_utf8(body).expect("command lines are UTF-8");
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
                "{cmd:?}"
            );
        }
        Err(_) => assert_eq!(out, PREFIX, "{cmd:?}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let (flags, rest) = match data.split_first() {
        Some((&f, r)) => (f, r),
        None => (0, &[][..]),
    };
    let mut fields = rest.split(|&b| b == 0xFF);
    let mut next = || text(fields.next().unwrap_or(&[]));
    let domain = next();
    let path = next();
    let keyword = next();
    let value = next();
    let envid = next();
    let orcpt_type = next();
    let orcpt_addr = next();
    let free = next();
    let mech = next();
    let auth_bytes = next().into_bytes();
    let size: u64 = next().trim().parse().unwrap_or(u64::from(flags));
    let bit = |n: u8| flags & (1 << n) != 0;

    // HELO family.
    if let Ok(d) = Domain::parse(&domain) {
        assert_eq!(d.as_str(), domain);
        check(&Command::Ehlo(d.clone()));
        check(&Command::Helo(d.clone()));
        check(&Command::Lhlo(d));
    }

    // ESMTP parameters.
    let extra: Vec<EsmtpParam> = EsmtpParam::new(&keyword, bit(0).then_some(value.as_str()))
        .into_iter()
        .collect();

    // MAIL.
    if let Ok(from) = ReversePath::parse(&path) {
        assert_eq!(ReversePath::parse(&from.to_string()).as_ref(), Ok(&from));
        let mut params = MailParams::default();
        params.size = bit(1).then_some(size);
        params.body = match flags % 4 {
            0 => None,
            1 => Some(BodyType::SevenBit),
            2 => Some(BodyType::EightBitMime),
            _ => Some(BodyType::BinaryMime),
        };
        params.smtputf8 = bit(2);
        params.ret = bit(3).then_some(if bit(4) { Ret::Full } else { Ret::Headers });
        params.envid = bit(5).then(|| envid.clone());
        params.requiretls = bit(6);
        params.auth = bit(7).then(|| from.clone());
        params.extra = extra.clone();
        check(&Command::Mail { from, params });
    }

    // RCPT.
    if let Ok(to) = ForwardPath::parse(&path) {
        assert_eq!(ForwardPath::parse(&to.to_string()).as_ref(), Ok(&to));
        let mut params = RcptParams::default();
        params.notify = bit(1).then(|| Notify::new(bit(2), bit(3), bit(4)));
        params.orcpt = match (bit(5), Mailbox::parse(&orcpt_addr)) {
            (true, Ok(m)) => Some(Orcpt::rfc822(&m)),
            _ => Orcpt::new(&orcpt_type, &orcpt_addr).ok(),
        };
        params.extra = extra;
        check(&Command::Rcpt { to, params });
    }

    // Free-form commands.
    check(&Command::Vrfy(free.clone()));
    check(&Command::Expn(free.clone()));
    check(&Command::Help(Some(free.clone())));
    check(&Command::Help(None));
    check(&Command::Raw(free.clone()));

    // AUTH.
    let mechanism = Mechanism::parse(&mech).unwrap_or(Mechanism::LOGIN);
    check(&Command::Auth {
        mechanism,
        initial_response: bit(0).then(|| Secret::new(auth_bytes.clone())),
    });
    check(&Command::AuthResponse(Secret::new(auth_bytes.clone())));
    check(&Command::AuthCancel);

    // Fixed commands.
    check(&Command::Bdat { size, last: bit(1) });
    for cmd in [
        Command::StartTls,
        Command::Data,
        Command::Rset,
        Command::Noop,
        Command::Quit,
    ] {
        check(&cmd);
    }

    // xtext.
    assert_eq!(
        xtext_decode(&xtext_encode(&auth_bytes)).as_deref(),
        Ok(&auth_bytes[..])
    );
    // Decoding is not injective ("+41" and "A" both give b"A"), but the
    // canonical encoding of a decoded value decodes to the same bytes.
    if let Ok(bytes) = xtext_decode(&free) {
        assert_eq!(
            xtext_decode(&xtext_encode(&bytes)).as_deref(),
            Ok(&bytes[..])
        );
        assert!(bytes.len() <= free.len());
    }
});
