//! The IO-free half of the `send` examples, shared by `smtp-blocking`'s
//! `send` and `smtp-tokio`'s `send-async` so that both keep the same flags,
//! prompts, output lines and exit codes: argument parsing, the builder
//! settings, the AUTH mechanism choice, the envelope, and the report.
//!
//! Both adapters' error type is [`smtp_proto::session::Error`] and their
//! builders take the shared settings as one [`Options`]
//! ([`Args::options`]), so this module needs no adapter. What remains in
//! each example is its builder (`Builder::new()`, the `--ca-file`
//! certificates of [`Args::ca_file`], then `.options(..)`) and the
//! connect, AUTH, send and QUIT calls, blocking or `.await`ed.
//!
//! Exit status: 0 every recipient accepted, 1 some refused, 2 any error or
//! none accepted (`error: ...` on stderr), 3 outcome unknown (connection
//! lost after the final dot).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use smtp_proto::auth::{Authenticator, CramMd5, Login, Plain, ScramSha256, XOAuth2};
use smtp_proto::session::{Error, Options, TlsPolicy};
use smtp_proto::{Domain, Envelope, ForwardPath, Reply, ReversePath, TxnOutcome, TxnReport};

const USAGE: &str = "usage: send [OPTIONS] [--from ADDR] [--to ADDR]... < MESSAGE
  --server HOST[:PORT]  default localhost, port 25 (465 with --tls, 2003 with --lmtp)
  --lmtp                speak LMTP; HOST may be an absolute Unix socket path
  --tls                 implicit TLS          --starttls   require STARTTLS (fail before AUTH/MAIL without it)
  --ca-file PEM         trust this certificate in addition to the system roots
  --user U             log in; the password from --password-file PATH, $SMTP_PASSWORD, or a
                       prompt on a terminal (--password P works too, but shows in `ps`)
  --auth MECH          force one mechanism: PLAIN, LOGIN, CRAM-MD5, XOAUTH2, SCRAM-SHA-256, or
                       SCRAM-SHA-256-PLUS (bound to the TLS channel); without it `login` picks
                       SCRAM-SHA-256-PLUS > SCRAM-SHA-256 > PLAIN > LOGIN > CRAM-MD5
  --allow-plaintext-auth   permit AUTH (any mechanism) without TLS
  --helo NAME   --timeout SECS   --no-pipelining   --no-chunking   --debug (wire trace on stderr)
  --no-prdr            do not ask for per-recipient replies (PRDR) when the server offers them";

/// SCRAM-SHA-256 for `--auth`, with SASLprep's refusal as a usage error.
fn scram(user: &str, password: &str) -> Result<ScramSha256, Error> {
    ScramSha256::new(user, password).map_err(|e| Error::InvalidArgument(format!("--auth: {e}")))
}

/// The command line, parsed and checked.
#[derive(Debug, Default)]
pub struct Args {
    server: Option<String>,
    lmtp: bool,
    tls: bool,
    starttls: bool,
    ca_file: Option<String>,
    user: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
    auth: Option<String>,
    allow_plaintext_auth: bool,
    helo: Option<String>,
    timeout: Option<f64>,
    no_pipelining: bool,
    no_chunking: bool,
    no_prdr: bool,
    debug: bool,
    from: Option<String>,
    to: Vec<String>,
}

impl Args {
    /// `--server`, or `localhost`.
    pub fn server(&self) -> &str {
        self.server.as_deref().unwrap_or("localhost")
    }

    /// `--user` and `--password`, when given (parsing ensures both or none).
    pub fn credentials(&self) -> Option<(&str, &str)> {
        Some((self.user.as_deref()?, self.password.as_deref()?))
    }

    /// Fills in the password for `--user` when `--password` did not give
    /// it: from `--password-file` (its first line), else `$SMTP_PASSWORD`,
    /// else a prompt on the terminal (not echoed). Nothing to do without
    /// `--user`.
    ///
    /// # Errors
    /// The file cannot be read, or there is no password and no terminal.
    pub fn resolve_password(&mut self) -> Result<(), Error> {
        if self.user.is_none() || self.password.is_some() {
            return Ok(());
        }
        let password = if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("--password-file {path}: {e}"),
                ))
            })?;
            text.lines().next().unwrap_or_default().to_owned()
        } else if let Ok(p) = std::env::var("SMTP_PASSWORD") {
            p
        } else if std::io::stdin().is_terminal() {
            rpassword::prompt_password("Password: ").map_err(Error::Io)?
        } else {
            return Err(Error::InvalidArgument(
                "--user needs a password: --password-file, $SMTP_PASSWORD, or a terminal to ask on"
                    .to_owned(),
            ));
        };
        self.password = Some(password);
        Ok(())
    }

    /// The authenticator `--auth` forces, or `None` to let `login` choose.
    pub fn authenticator(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Option<Box<dyn Authenticator + Send>>, Error> {
        let Some(mech) = &self.auth else {
            return Ok(None);
        };
        let auth: Box<dyn Authenticator + Send> = match mech.to_ascii_uppercase().as_str() {
            "PLAIN" => Box::new(Plain::new(user, password)),
            "LOGIN" => Box::new(Login::new(user, password)),
            "CRAM-MD5" => Box::new(CramMd5::new(user, password)),
            "XOAUTH2" => Box::new(XOAuth2::new(user, password)),
            // The session hands -PLUS the TLS channel binding data itself
            // (Authenticator::prepare), so nothing more is needed here.
            "SCRAM-SHA-256" => Box::new(scram(user, password)?),
            "SCRAM-SHA-256-PLUS" => Box::new(scram(user, password)?.with_plus(true)),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "--auth {other}: use PLAIN, LOGIN, CRAM-MD5, XOAUTH2, SCRAM-SHA-256 or SCRAM-SHA-256-PLUS"
                )));
            }
        };
        Ok(Some(auth))
    }

    /// `--ca-file`: the PEM file whose certificates the builder trusts in
    /// addition to the system roots (the adapter's `load_pem_certificates`
    /// reads it; load it before [`options`](Self::options), whose errors
    /// come second).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref().map(Path::new)
    }

    /// The builder settings of every other connection flag, for the
    /// adapter's `Builder::options`.
    pub fn options(&self) -> Result<Options, Error> {
        let mut o = Options::default();
        if self.lmtp {
            o.set_lmtp();
        }
        if self.tls {
            o.implicit_tls = true;
        }
        // The command line's contract (as swaks): no TLS unless asked for.
        o.tls_policy = Some(if self.starttls {
            TlsPolicy::Required
        } else {
            TlsPolicy::Disabled
        });
        if let Some(name) = &self.helo {
            let domain = Domain::parse(name)
                .map_err(|e| Error::InvalidArgument(format!("--helo {name:?}: {e}")))?;
            o.local_hostname = Some(domain);
        }
        if let Some(secs) = self.timeout {
            o.set_timeout(Duration::from_secs_f64(secs));
        }
        o.config.pipelining = !self.no_pipelining;
        o.config.chunking = !self.no_chunking;
        o.config.prdr = !self.no_prdr;
        o.config.allow_plaintext_auth = self.allow_plaintext_auth;
        o.debuglevel = u8::from(self.debug);
        Ok(o)
    }
}

/// The command line, or the exit status when there is nothing to run:
/// `--help` prints the usage on standard output (exit 0); a bad command
/// line prints `error: ...` on standard error (exit 2).
pub fn args() -> Result<Args, ExitCode> {
    match parse_args() {
        Ok(Some(args)) => Ok(args),
        Ok(None) => {
            println!("{USAGE}");
            Err(ExitCode::SUCCESS)
        }
        Err(e) => Err(usage_error(&e)),
    }
}

/// Parses the command line (`None` for `--help`); the error is the
/// message for `error: ...`.
pub fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match name.as_str() {
            "--server" => a.server = Some(value()?),
            "--lmtp" => a.lmtp = true,
            "--tls" => a.tls = true,
            "--starttls" => a.starttls = true,
            "--ca-file" => a.ca_file = Some(value()?),
            "--user" => a.user = Some(value()?),
            "--password" => a.password = Some(value()?),
            "--password-file" => a.password_file = Some(value()?),
            "--auth" => a.auth = Some(value()?),
            "--allow-plaintext-auth" => a.allow_plaintext_auth = true,
            "--helo" => a.helo = Some(value()?),
            "--timeout" => {
                let v = value()?;
                let secs: f64 = v.parse().map_err(|_| format!("bad --timeout {v:?}"))?;
                if !(secs > 0.0 && secs.is_finite()) {
                    return Err(format!("bad --timeout {v:?}"));
                }
                a.timeout = Some(secs);
            }
            "--no-pipelining" => a.no_pipelining = true,
            "--no-chunking" => a.no_chunking = true,
            "--no-prdr" => a.no_prdr = true,
            "--debug" => a.debug = true,
            "--from" => a.from = Some(value()?),
            "--to" => a.to.push(value()?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    if a.tls && a.starttls {
        return Err("--tls and --starttls exclude each other".to_owned());
    }
    if a.password.is_some() && a.password_file.is_some() {
        return Err("--password and --password-file exclude each other".to_owned());
    }
    if a.user.is_none() && (a.password.is_some() || a.password_file.is_some()) {
        return Err("a password needs --user".to_owned());
    }
    Ok(Some(a))
}

/// The exit status for a failed parse (2, after `error: ...`).
pub fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// The exit status for a run: its own code, or 3 for an unknown outcome
/// and 2 for any other error (after `error: ...`).
pub fn exit_code(result: Result<u8, Error>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_outcome_unknown() { 3 } else { 2 })
        }
    }
}

/// Who the message goes from and to, and the message itself when it was
/// typed at the prompts rather than piped.
#[derive(Debug)]
pub struct Request {
    /// `--from`, or the address typed at the prompt.
    pub from: Option<String>,
    to: Vec<String>,
    /// The typed message, or `None` to read standard input.
    pub typed: Option<Vec<u8>>,
}

impl Request {
    /// The addresses from the flags; when standard input is a terminal,
    /// prompts like smtplib's example, before connecting.
    pub fn read(args: &Args) -> Result<Request, Error> {
        let mut from = args.from.clone();
        let mut to = args.to.clone();
        let typed = if std::io::stdin().is_terminal() {
            Some(prompt_message(&mut from, &mut to)?)
        } else {
            None
        };
        Ok(Request { from, to, typed })
    }

    /// The recipients, or `None` to take them from the message headers.
    pub fn to(&self) -> Option<Vec<&str>> {
        let to: Vec<&str> = self.to.iter().map(String::as_str).collect();
        (!to.is_empty()).then_some(to)
    }
}

/// The envelope of `--from` and `--to`.
pub fn envelope(from: &str, to: &[&str]) -> Result<Envelope, Error> {
    let from = ReversePath::parse_name_addr(from)
        .map_err(|e| Error::InvalidArgument(format!("--from {from:?}: {e}")))?;
    let mut paths = Vec::new();
    for t in to {
        paths.push(
            ForwardPath::parse_name_addr(t)
                .map_err(|e| Error::InvalidArgument(format!("--to {t:?}: {e}")))?,
        );
    }
    Ok(Envelope::new(from, paths))
}

/// Prints one line per recipient and picks the exit status.
pub fn print_report(report: &TxnReport) -> Result<u8, Error> {
    match report.outcome {
        TxnOutcome::SenderRefused => {
            let reply = report.mail_reply.as_ref().map(line).unwrap_or_default();
            return Err(Error::InvalidArgument(format!("sender refused: {reply}")));
        }
        TxnOutcome::DataRefused => {
            let reply = report.data_reply.as_ref().map(line).unwrap_or_default();
            return Err(Error::InvalidArgument(format!("message refused: {reply}")));
        }
        TxnOutcome::Unknown => {
            return Err(Error::OutcomeUnknown {
                cause: Box::new(Error::ServerDisconnected { stage: None }),
            });
        }
        _ => {}
    }
    let mut out = std::io::stdout().lock();
    let mut refused = 0usize;
    let mut accepted = 0usize;
    for r in &report.recipients {
        let address = match r.address.mailbox() {
            Some(m) => m.to_string(),
            None => "Postmaster".to_owned(),
        };
        let reply = match r.refusal() {
            Some(reply) => {
                refused += 1;
                Some(reply)
            }
            None => {
                accepted += 1;
                r.delivery_reply.as_ref().or(r.rcpt_reply.as_ref())
            }
        };
        let text = reply.map(line).unwrap_or_else(|| "(no reply)".to_owned());
        let _ = writeln!(out, "{address} {text}");
    }
    let _ = out.flush();
    if accepted == 0 {
        eprintln!("error: no recipient accepted the message");
        return Ok(2);
    }
    Ok(if refused == 0 { 0 } else { 1 })
}

/// `CODE [ENHANCED] TEXT` on one line.
fn line(reply: &Reply) -> String {
    let text: Vec<String> = reply
        .lines()
        .map(|l| String::from_utf8_lossy(l).trim().to_owned())
        .collect();
    let text = text.join(" ");
    if text.is_empty() {
        reply.code().to_string()
    } else {
        format!("{} {text}", reply.code())
    }
}

/// smtplib's example prompts (on stderr, so stdout stays the report).
fn prompt_message(from: &mut Option<String>, to: &mut Vec<String>) -> Result<Vec<u8>, Error> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut ask = |prompt: &str| -> Result<String, Error> {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        Ok(lines
            .next()
            .transpose()?
            .unwrap_or_default()
            .trim()
            .to_owned())
    };
    if from.is_none() {
        *from = Some(ask("From: ")?);
    }
    if to.is_empty() {
        *to = ask("To: ")?.split_whitespace().map(str::to_owned).collect();
    }
    eprintln!("Enter message, end with ^D (Unix) or ^Z (Windows):");
    let mut msg = format!(
        "From: {}\r\nTo: {}\r\n\r\n",
        from.as_deref().unwrap_or_default(),
        to.join(", ")
    )
    .into_bytes();
    for l in lines {
        let l = l?;
        if l.is_empty() {
            break;
        }
        msg.extend_from_slice(l.as_bytes());
        msg.extend_from_slice(b"\r\n");
    }
    eprintln!("Message length is {}", msg.len());
    Ok(msg)
}

/// Bodies up to this size are held in memory; a larger one is spooled to a
/// temporary file while it is measured.
const MEMORY_LIMIT: usize = 16 << 20;

/// A message body read from standard input and measured before
/// connecting, so that `SIZE=` is declared (and checked against the
/// server's limit before MAIL) and `BODY=8BITMIME` only when the body has
/// 8-bit bytes. Memory stays bounded: past `MEMORY_LIMIT` (16 MiB) the rest is
/// spooled to a temporary file (removed when this is dropped).
#[derive(Debug)]
pub enum Body {
    /// The whole body.
    Memory(Vec<u8>),
    /// The body in a temporary file (opened at its start), and its path.
    Spool(std::fs::File, std::path::PathBuf),
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Body::Spool(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Reads and measures standard input (see [`Body`]).
///
/// # Errors
/// Standard input or the spool file fails.
pub fn read_body(mut input: impl std::io::Read) -> Result<(Body, smtp_proto::BodyOptions), Error> {
    use std::io::{Read, Seek};
    let mut memory = Vec::new();
    (&mut input)
        .take(MEMORY_LIMIT as u64 + 1)
        .read_to_end(&mut memory)?;
    if memory.len() <= MEMORY_LIMIT {
        let options = smtp_proto::BodyOptions::for_body(&memory);
        return Ok((Body::Memory(memory), options));
    }
    let path = std::env::temp_dir().join(format!("smtp-send-{}.spool", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let mut encoder = smtp_proto::body::BodyEncoder::data();
    let mut scratch = Vec::new();
    let mut chunk = memory;
    loop {
        encoder.encode(&chunk, &mut scratch);
        scratch.clear();
        file.write_all(&chunk)?;
        chunk.clear();
        if (&mut input).take(1 << 20).read_to_end(&mut chunk)? == 0 {
            break;
        }
    }
    encoder.finish(&mut scratch);
    file.rewind()?;
    let content = if encoder.has_8bit() {
        smtp_proto::BodyContent::EightBit
    } else {
        smtp_proto::BodyContent::SevenBit
    };
    let options = smtp_proto::BodyOptions::default()
        .with_size(Some(encoder.message_len()))
        .with_content(content);
    Ok((Body::Spool(file, path), options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_stay_in_memory_and_large_ones_are_spooled_and_measured() {
        let (body, options) = read_body(&b"x\n\xe9\n"[..]).unwrap();
        assert!(matches!(body, Body::Memory(ref m) if m.len() == 4));
        assert_eq!(options.size, Some(6), "LF counts as CRLF");
        assert_eq!(options.content, smtp_proto::BodyContent::EightBit);
        // Past the memory bound: spooled, measured the same way, and the
        // spool holds the bytes as they came.
        let big: Vec<u8> = b"0123456789abcde\n".repeat((MEMORY_LIMIT / 16) + 2);
        let (body, options) = read_body(&big[..]).unwrap();
        let Body::Spool(ref file, ref path) = body else {
            panic!("not spooled")
        };
        assert_eq!(options.size, Some(smtp_proto::body::message_len(&big)));
        assert_eq!(options.content, smtp_proto::BodyContent::SevenBit);
        assert_eq!(file.metadata().unwrap().len(), big.len() as u64);
        let spooled = path.clone();
        drop(body);
        assert!(!spooled.exists(), "the spool is removed");
    }
}
