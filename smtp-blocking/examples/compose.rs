//! Composes a message (subject, text with an HTML alternative, an
//! attachment) and sends it: the envelope comes from the headers, the Bcc
//! is not transmitted, `Date` and `Message-ID` are added on request.
//!
//! ```text
//! cargo run -p smtp-blocking --example compose -- [--ca-file PEM | --insecure-plaintext]
//!     [--from ADDR] [--to ADDR] [--bcc ADDR] [HOST[:PORT]]    (default localhost:25)
//! ```
//!
//! STARTTLS is required (the builder's default) unless `--insecure-plaintext`;
//! `--ca-file` trusts a certificate in addition to the system roots.

use smtp_blocking::smtp_proto::compose::{MessageBuilder, Stamp};
use smtp_blocking::{Builder, Error, load_pem_certificates};

fn main() -> Result<(), Error> {
    let mut builder = Builder::new();
    let (mut server, mut from, mut to, mut bcc) = ("localhost:25".to_owned(), None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| Error::InvalidArgument(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--insecure-plaintext" => builder = builder.insecure_plaintext(),
            "--ca-file" => {
                for cert in load_pem_certificates(value()?.as_ref())? {
                    builder = builder.add_root_certificate(cert);
                }
            }
            "--from" => from = Some(value()?),
            "--to" => to = Some(value()?),
            "--bcc" => bcc = Some(value()?),
            _ => server = arg,
        }
    }
    let from = from.unwrap_or_else(|| "me@example.org".to_owned());
    let to = to.unwrap_or_else(|| "you@example.org".to_owned());

    let mut message = MessageBuilder::new()
        .from(("Me", from.as_str()))
        .to(to.as_str())
        .subject("Quarterly figures – Q1")
        .text_body("Hello,\n\nthe figures are attached.\n")
        .html_body("<p>Hello,</p><p>the figures are <b>attached</b>.</p>")
        .attachment(
            "text/csv",
            "q1.csv",
            &b"month,total\r\njan,10\r\nfeb,12\r\n"[..],
        );
    if let Some(bcc) = &bcc {
        message = message.bcc(bcc.as_str());
    }

    let mut smtp = builder.connect(&server)?;
    let report = smtp.send_built(message, Stamp::new().date().message_id())?;
    for r in &report.recipients {
        if let Some(reply) = &r.delivery_reply {
            println!("{} {reply}", r.address);
        }
    }
    smtp.quit()?;
    Ok(())
}
