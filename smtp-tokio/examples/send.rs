//! A swaks-like sender: smtplib's interactive example grown up, async. The
//! same flags, output lines and exit codes as `smtp-blocking`'s example.
//!
//! ```text
//! cargo run -p smtp-tokio --example send-async -- [OPTIONS] [--from ADDR] [--to ADDR]... < MESSAGE
//!   --server HOST[:PORT]  default localhost, port 25 (465 with --tls, 2003 with --lmtp)
//!   --lmtp                speak LMTP; HOST may be an absolute Unix socket path
//!   --tls                 implicit TLS          --starttls   require STARTTLS (fail before AUTH/MAIL without it)
//!   --ca-file PEM         trust this certificate in addition to the system roots
//!   --user U             log in; the password from --password-file PATH, $SMTP_PASSWORD, or a
//!                        prompt on a terminal (--password P works too, but shows in `ps`)
//!   --auth MECH          force one mechanism: PLAIN, LOGIN, CRAM-MD5, XOAUTH2, SCRAM-SHA-256, or
//!                        SCRAM-SHA-256-PLUS (bound to the TLS channel); without it `login` picks
//!                        SCRAM-SHA-256-PLUS > SCRAM-SHA-256 > PLAIN > LOGIN > CRAM-MD5
//!   --allow-plaintext-auth   permit AUTH (any mechanism) without TLS
//!   --helo NAME   --timeout SECS   --no-pipelining   --no-chunking   --debug (wire trace on stderr)
//!   --no-prdr            do not ask for per-recipient replies (PRDR) when the server offers them
//! ```
//!
//! Without `--from`/`--to` the envelope comes from the message headers
//! (`send_message` rules). When standard input is a terminal, it prompts for
//! the addresses and the message like smtplib's example.
//!
//! Standard output: one line per recipient, `ADDRESS CODE [ENHANCED] TEXT`:
//! refused recipients with their RCPT reply, accepted ones with the final
//! reply (LMTP, and SMTP with PRDR: that recipient's own). Exit status: 0 every recipient
//! accepted, 1 some refused, 2 any error or none accepted (`error: ...` on
//! stderr), 3 outcome unknown (connection lost after the final dot).
//!
//! The flags, prompts, report and exit codes live in the dev crate
//! `smtp-testkit` (`smtp-proto/testkit/src/send_cli.rs`), shared with the
//! blocking `send`; this file keeps only the builder and the calls.

use std::process::ExitCode;

use smtp_testkit::send_cli;
use smtp_tokio::smtp_proto::BodyOptions;
use smtp_tokio::{Builder, Error, load_pem_certificates};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match send_cli::args() {
        Ok(mut args) => send_cli::exit_code(run(&mut args).await),
        Err(code) => code,
    }
}

async fn run(args: &mut send_cli::Args) -> Result<u8, Error> {
    args.resolve_password()?;
    let request = send_cli::Request::read(args)?;
    // A piped message is measured before connecting (a blocking read,
    // before any session work; held in memory up to 16 MiB, spooled beyond),
    // so SIZE= and BODY= are declared truthfully.
    let measured = match &request.typed {
        None => Some(send_cli::read_body(std::io::stdin().lock())?),
        Some(_) => None,
    };
    let mut smtp = builder(args)?.connect(args.server()).await?;
    if let Some((user, password)) = args.credentials() {
        match args.authenticator(user, password)? {
            None => {
                smtp.login(user, password).await?;
            }
            Some(mut auth) => {
                smtp.authenticate(auth.as_mut()).await?;
            }
        }
    }
    let to = request.to();
    let report = match (&request.typed, request.from.as_deref(), to.as_deref()) {
        (Some(msg), f, t) => smtp.send_message_reader(&msg[..], f, t).await?.1,
        (None, Some(f), Some(t)) => {
            let envelope = send_cli::envelope(f, t)?;
            match measured {
                Some((send_cli::Body::Memory(ref bytes), options)) => {
                    smtp.send_report(&envelope, &bytes[..], options).await?
                }
                Some((send_cli::Body::Spool(ref file, _), options)) => {
                    let file = tokio::fs::File::from_std(file.try_clone()?);
                    smtp.send_report(&envelope, file, options).await?
                }
                None => {
                    smtp.send_report(&envelope, tokio::io::stdin(), BodyOptions::default())
                        .await?
                }
            }
        }
        (None, f, t) => match measured {
            Some((send_cli::Body::Memory(ref bytes), _)) => {
                smtp.send_message_report(bytes, f, t).await?.1
            }
            Some((send_cli::Body::Spool(ref file, _), options)) => {
                let file = tokio::fs::File::from_std(file.try_clone()?);
                smtp.send_message_measured(file, f, t, Some(options))
                    .await?
                    .1
            }
            None => smtp.send_message_reader(tokio::io::stdin(), f, t).await?.1,
        },
    };
    let code = send_cli::print_report(&report)?;
    // The message is delivered (or not) whatever QUIT does now.
    let _ = smtp.quit().await;
    Ok(code)
}

/// The builder with every connection flag applied.
fn builder(args: &send_cli::Args) -> Result<Builder, Error> {
    let mut b = Builder::new();
    if let Some(path) = args.ca_file() {
        for cert in load_pem_certificates(path)? {
            b = b.add_root_certificate(cert);
        }
    }
    Ok(b.options(args.options()?))
}
