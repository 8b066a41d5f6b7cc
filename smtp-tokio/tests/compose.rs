//! Messages composed with mail-builder (feature `builder`) and sent with
//! `send_built` to the project's Postfix: what it stored is checked. Each
//! test fails without the `SMTP_TEST_*` variables (skips with
//! `SMTP_TEST_SKIP_SERVERS=1`, never under `CI=true`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Servers, ServersExt, postfix_delivery, servers, strip_received, token};
use smtp_tokio::smtp_proto::TxnReport;
use smtp_tokio::smtp_proto::compose::{MessageBuilder, Stamp};
use smtp_tokio::{Error, SmtpClient};

async fn postfix(s: &Servers) -> SmtpClient {
    s.builder()
        .connect_port(&s.host(), s.port("SMTP_TEST_POSTFIX_PORT"))
        .await
        .unwrap()
}

/// A binary attachment: it arrives byte for byte (base64).
const BLOB: &[u8] = b"\x00\x01\r\n.\r\n\xff\xfe\n\r";

/// From, To, Cc and Bcc, a non-ASCII subject carrying `tok`, text with an
/// HTML alternative, and an attachment ([`BLOB`]).
fn message(tok: &str) -> MessageBuilder<'static> {
    MessageBuilder::new()
        .from(("Ann Example", "ann@example.org"))
        .to(("Bob", "bob@example.org"))
        .cc("carol@example.org")
        .bcc("hidden@example.org")
        .subject(format!("Grüße {tok}"))
        .text_body("Hello Bob,\n.a line starting with a dot\n")
        .html_body("<p>Hello Bob</p>")
        .attachment("application/octet-stream", "blob.bin", BLOB)
}

/// The message Postfix stored for `report`, and its envelope lines.
fn stored(s: &Servers, report: &TxnReport) -> (Vec<u8>, Vec<String>) {
    let text = report.recipients[0]
        .delivery_reply
        .as_ref()
        .unwrap()
        .text_lossy();
    let (eml, env) = postfix_delivery(s, &text);
    (strip_received(&eml).to_vec(), env)
}

fn header(parsed: &mailparse::ParsedMail<'_>, name: &str) -> Vec<String> {
    parsed
        .headers
        .iter()
        .filter(|h| h.get_key_ref().eq_ignore_ascii_case(name))
        .map(mailparse::MailHeader::get_value)
        .collect()
}

#[tokio::test]
async fn postfix_stores_a_built_message_with_date_and_message_id() {
    let Some(s) = servers() else { return };
    let tok = token("built");
    let mut c = postfix(&s).await;
    let report = c
        .send_built(message(&tok), Stamp::new().date().message_id())
        .await
        .unwrap();
    assert_eq!(report.delivered().count(), 3);
    let (eml, env) = stored(&s, &report);
    let parsed = mailparse::parse_mail(&eml).unwrap();
    assert_eq!(header(&parsed, "Subject"), [format!("Grüße {tok}")]);
    assert_eq!(header(&parsed, "Date").len(), 1);
    let id = header(&parsed, "Message-ID");
    assert_eq!(id.len(), 1);
    assert!(
        id[0].starts_with('<') && id[0].ends_with("@example.org>"),
        "{id:?}"
    );
    assert!(header(&parsed, "Bcc").is_empty());
    let raw = String::from_utf8(eml.clone()).unwrap();
    assert!(!raw.contains("hidden@"), "{raw}");
    assert_eq!(parsed.ctype.mimetype, "multipart/mixed");
    assert_eq!(parsed.subparts[0].ctype.mimetype, "multipart/alternative");
    assert_eq!(
        parsed.subparts[0].subparts[0].get_body().unwrap(),
        "Hello Bob,\n.a line starting with a dot\n"
    );
    let attachment = &parsed.subparts[1];
    assert_eq!(attachment.get_body_raw().unwrap(), BLOB);
    assert_eq!(
        attachment.get_content_disposition().params["filename"],
        "blob.bin"
    );
    assert_eq!(env[0], "sender ann@example.org");
    let mut rcpts: Vec<&str> = env[1..].iter().map(String::as_str).collect();
    rcpts.sort_unstable();
    assert_eq!(
        rcpts,
        [
            "rcpt bob@example.org",
            "rcpt carol@example.org",
            "rcpt hidden@example.org"
        ]
    );
    c.quit().await.unwrap();
}

#[tokio::test]
async fn postfix_stores_no_date_or_message_id_unless_asked() {
    let Some(s) = servers() else { return };
    let tok = token("unstamped");
    let mut c = postfix(&s).await;
    let report = c.send_built(message(&tok), Stamp::new()).await.unwrap();
    let (eml, _) = stored(&s, &report);
    let parsed = mailparse::parse_mail(&eml).unwrap();
    assert_eq!(header(&parsed, "Subject"), [format!("Grüße {tok}")]);
    assert!(header(&parsed, "Date").is_empty(), "{:?}", parsed.headers);
    assert!(
        header(&parsed, "Message-ID").is_empty(),
        "{:?}",
        parsed.headers
    );
    assert!(header(&parsed, "Bcc").is_empty());
    c.quit().await.unwrap();
}

#[tokio::test]
async fn a_built_message_without_an_envelope_is_refused_before_mail() {
    let Some(s) = servers() else { return };
    let mut c = postfix(&s).await;
    let nobody = MessageBuilder::new()
        .from("ann@example.org")
        .subject("x")
        .text_body("x");
    let e = c.send_built(nobody, Stamp::new()).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidMessage(m) if m == "no recipients"),
        "{e:?}"
    );
    let anonymous = MessageBuilder::new().to("bob@example.org").text_body("x");
    let e = c
        .send_built(anonymous, Stamp::new().message_id())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidMessage(m) if m.contains("Message-ID")),
        "{e:?}"
    );
    // Nothing was sent: the session goes on.
    assert_eq!(c.noop().await.unwrap().code().get(), 250);
    c.quit().await.unwrap();
}
