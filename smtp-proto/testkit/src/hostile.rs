//! A scripted hostile SMTP server for tests (std threads, 127.0.0.1:0),
//! shared by both adapters' tests.
//! It knows no SMTP: a scenario is a list of steps, read from a small text
//! format (files in `smtp-proto/testkit/scenarios/*.scn`), and the server
//! records every byte the client sent so a test can assert what was (and
//! was not) written.
//!
//! # Scenario format
//!
//! One step per line; blank lines and lines starting with `#` are ignored.
//! In TEXT, `\r`, `\n`, `\t`, `\0`, `\\`, `\s` (a space, for trailing
//! spaces) and `\xNN` are escapes; nothing else is special.
//!
//! | line | step |
//! |---|---|
//! | `C: TEXT` | expect exactly `TEXT\r\n` from the client |
//! | `C^ TEXT` | expect one line (up to CRLF) starting with `TEXT` |
//! | `C* TEXT` | read until the bytes `TEXT` have been seen (e.g. `C* \r\n.\r\n`) |
//! | `S: TEXT` | send `TEXT\r\n` in one write |
//! | `S+ TEXT` | queue `TEXT\r\n`: it goes out in one write with the next send step |
//! | `S? TEXT` | send `TEXT\r\n`, ignoring a closed connection |
//! | `R: TEXT` / `R+ TEXT` | as `S:` / `S+`, without the CRLF (partial lines) |
//! | `FLOOD N TEXT` | send `TEXT\r\n` N times (errors ignored: the client may hang up) |
//! | `FLOOD~ N TEXT` | send `TEXT` N times, no CRLF (an endless line) |
//! | `DRIP 40ms TEXT` | send `TEXT\r\n` one byte at a time, pausing between (errors ignored) |
//! | `STALL 300ms` / `STALL 2s` | do nothing for that long |
//! | `CLOSE` | close the connection (FIN) |
//! | `RESET` | close with `SO_LINGER` 0 (RST) |
//! | `TLS` | run the server side of a TLS handshake (test certificate) |
//! | `TLS?` | the same, for a client expected to abort it: failure is fine |
//! | `END` | read until the client closes; fail if it sends anything at all |
//! | `DRAIN` | read until the client closes; anything goes |
//! | `BYE` | `C: QUIT`, `S? 221 bye`, `DRAIN` |
//! | `INCLUDE NAME` | the steps of `NAME.scn` from the same directory |
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Upper bound for any single wait of the server.
pub const SERVER_WAIT: Duration = Duration::from_secs(10);

/// One step of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Read exactly these bytes.
    Expect(Vec<u8>),
    /// Read one line (through CRLF) that starts with these bytes.
    ExpectLineStarting(Vec<u8>),
    /// Read until these bytes have been seen.
    ReadUntil(Vec<u8>),
    /// Write these bytes; `coalesce` holds them for the next send step.
    Send { bytes: Vec<u8>, coalesce: bool },
    /// Write, ignoring errors.
    TrySend(Vec<u8>),
    /// Write `bytes` `times` times, ignoring errors.
    Flood { bytes: Vec<u8>, times: usize },
    /// Write one byte at a time with `gap` between, ignoring errors.
    Drip { bytes: Vec<u8>, gap: Duration },
    /// Sleep.
    Stall(Duration),
    /// Close (FIN).
    Close,
    /// Close with linger 0 (RST).
    Reset,
    /// Server-side TLS handshake.
    Tls,
    /// A handshake the client is expected to abort (bad certificate or
    /// name): a failure ends the connection without failing the script.
    TryTls,
    /// Read until EOF; fail on any byte.
    End,
    /// Read until EOF; ignore what comes.
    Drain,
}

/// The directory of the `.scn` files (`scenarios/` of this crate).
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Loads `NAME.scn` from [`scenario_dir`].
pub fn load(name: &str) -> Vec<Step> {
    let path = scenario_dir().join(format!("{name}.scn"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("scenario {}: {e}", path.display()));
    parse(&text).unwrap_or_else(|e| panic!("scenario {name}: {e}"))
}

/// Parses a scenario (see the module docs).
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        parse_line(line, &mut steps).map_err(|e| format!("line {}: {e}: {line:?}", n + 1))?;
    }
    Ok(steps)
}

fn parse_line(line: &str, steps: &mut Vec<Step>) -> Result<(), String> {
    let (word, rest) = match line.split_once(' ') {
        Some((w, r)) => (w, r),
        None => (line, ""),
    };
    let crlf = |t: &str| -> Result<Vec<u8>, String> {
        let mut b = unescape(t)?;
        b.extend_from_slice(b"\r\n");
        Ok(b)
    };
    let step = match word {
        "C:" => Step::Expect(crlf(rest)?),
        "C^" => Step::ExpectLineStarting(unescape(rest)?),
        "C*" => Step::ReadUntil(unescape(rest)?),
        "S:" => Step::Send {
            bytes: crlf(rest)?,
            coalesce: false,
        },
        "S+" => Step::Send {
            bytes: crlf(rest)?,
            coalesce: true,
        },
        "S?" => Step::TrySend(crlf(rest)?),
        "R:" => Step::Send {
            bytes: unescape(rest)?,
            coalesce: false,
        },
        "R+" => Step::Send {
            bytes: unescape(rest)?,
            coalesce: true,
        },
        "FLOOD" | "FLOOD~" => {
            let (n, t) = rest.split_once(' ').ok_or("FLOOD N TEXT")?;
            let times = n.parse().map_err(|_| "bad count")?;
            let bytes = if word == "FLOOD" {
                crlf(t)?
            } else {
                unescape(t)?
            };
            Step::Flood { bytes, times }
        }
        "DRIP" => {
            let (d, t) = rest.split_once(' ').ok_or("DRIP DURATION TEXT")?;
            Step::Drip {
                bytes: crlf(t)?,
                gap: duration(d)?,
            }
        }
        "STALL" => Step::Stall(duration(rest.trim())?),
        "CLOSE" => Step::Close,
        "RESET" => Step::Reset,
        "TLS" => Step::Tls,
        "TLS?" => Step::TryTls,
        "END" => Step::End,
        "DRAIN" => Step::Drain,
        "BYE" => {
            steps.push(Step::Expect(b"QUIT\r\n".to_vec()));
            steps.push(Step::TrySend(b"221 bye\r\n".to_vec()));
            Step::Drain
        }
        "INCLUDE" => {
            steps.extend(load(rest.trim()));
            return Ok(());
        }
        _ => return Err("unknown step".into()),
    };
    steps.push(step);
    Ok(())
}

/// `300ms`, `2s`.
pub fn duration(s: &str) -> Result<Duration, String> {
    if let Some(ms) = s.strip_suffix("ms") {
        ms.parse()
            .map(Duration::from_millis)
            .map_err(|e| e.to_string())
    } else if let Some(secs) = s.strip_suffix('s') {
        secs.parse()
            .map(Duration::from_secs)
            .map_err(|e| e.to_string())
    } else {
        Err(format!("duration {s:?} needs ms or s"))
    }
}

/// The escapes of the module docs.
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = *b.get(i + 1).ok_or("trailing backslash")?;
        i += 2;
        match c {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b's' => out.push(b' '),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = s.get(i..i + 2).ok_or("short \\x")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 2;
            }
            _ => return Err(format!("unknown escape \\{}", c as char)),
        }
    }
    Ok(out)
}

/// The test certificate (PEM) and its PKCS#8 key, made once per test run
/// with the `openssl` CLI: self-signed, for `localhost` and 127.0.0.1.
pub fn test_cert() -> &'static (Vec<u8>, Vec<u8>) {
    static CERT: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    CERT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "smtp-hostile-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .arg("ec_paramgen_curve:prime256v1")
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            // An end-entity certificate (openssl's default is CA:TRUE,
            // which webpki refuses for a server: CaUsedAsEndEntity).
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("the openssl CLI is needed for the TLS scenarios");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pair = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
        pair
    })
}

/// The bytes the client sent, shared with the server thread.
type Record = Arc<Mutex<Vec<u8>>>;

/// A hostile server running one scenario on one connection.
pub struct Server {
    pub addr: SocketAddr,
    received: Record,
    handle: JoinHandle<Result<(), String>>,
}

impl Server {
    /// Listens on 127.0.0.1:0 and plays `steps` to the first client.
    pub fn start(steps: Vec<Step>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Record::default();
        let rec = received.clone();
        let handle = std::thread::spawn(move || run(listener, steps, rec));
        Server {
            addr,
            received,
            handle,
        }
    }

    /// Loads and plays the scenario file `name`.
    pub fn scenario(name: &str) -> Server {
        Server::start(load(name))
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything the client sent so far (plaintext and inside TLS).
    pub fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }

    /// Waits for the script; `Err` says which step failed and why.
    pub fn join(self) -> (Result<(), String>, Vec<u8>) {
        let result = match self.handle.join() {
            Ok(r) => r,
            Err(_) => Err("server thread panicked".into()),
        };
        let received = self.received.lock().unwrap().clone();
        (result, received)
    }

    /// Waits for the script; panics with its failure. Returns the bytes.
    pub fn finish(self) -> Vec<u8> {
        let (result, received) = self.join();
        if let Err(e) = result {
            panic!(
                "scenario failed: {e}\nclient sent: {:?}",
                String::from_utf8_lossy(&received)
            );
        }
        received
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
    Gone,
}

impl Conn {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Conn::Plain(s) => Some(s),
            Conn::Tls(t) => Some(t.get_ref()),
            Conn::Gone => None,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(t) => t.read(buf),
            Conn::Gone => Ok(0),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(t) => t.write(buf),
            Conn::Gone => Err(ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(t) => t.flush(),
            Conn::Gone => Ok(()),
        }
    }
}

fn run(listener: TcpListener, steps: Vec<Step>, rec: Record) -> Result<(), String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if start.elapsed() > SERVER_WAIT {
                    return Err("no connection".into());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(SERVER_WAIT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(SERVER_WAIT))
        .map_err(|e| e.to_string())?;
    let mut conn = Conn::Plain(stream);
    let mut pending = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        run_step(&mut conn, step, &mut pending, &rec)
            .map_err(|e| format!("step {i} {step:?}: {e}"))?;
    }
    Ok(())
}

fn read_some(conn: &mut Conn, rec: &Record, buf: &mut [u8]) -> io::Result<usize> {
    let n = conn.read(buf)?;
    rec.lock().unwrap().extend_from_slice(&buf[..n]);
    Ok(n)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_step(
    conn: &mut Conn,
    step: &Step,
    pending: &mut Vec<u8>,
    rec: &Record,
) -> Result<(), String> {
    match step {
        Step::Expect(want) => {
            let mut got = vec![0u8; want.len()];
            let mut filled = 0;
            while filled < want.len() {
                match read_some(conn, rec, &mut got[filled..]) {
                    Ok(0) => return Err(format!("EOF after {:?}", lossy(&got[..filled]))),
                    Ok(n) => filled += n,
                    Err(e) => return Err(format!("{e} after {:?}", lossy(&got[..filled]))),
                }
            }
            if &got == want {
                Ok(())
            } else {
                Err(format!("got {:?}", lossy(&got)))
            }
        }
        Step::ExpectLineStarting(prefix) => {
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while !line.ends_with(b"\r\n") {
                match read_some(conn, rec, &mut b) {
                    Ok(0) => return Err(format!("EOF after {:?}", lossy(&line))),
                    Ok(_) => line.push(b[0]),
                    Err(e) => return Err(format!("{e} after {:?}", lossy(&line))),
                }
                if line.len() > 1 << 20 {
                    return Err("line too long".into());
                }
            }
            if line.starts_with(prefix) {
                Ok(())
            } else {
                Err(format!("got {:?}", lossy(&line)))
            }
        }
        Step::ReadUntil(marker) => {
            let mut seen = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                if seen.windows(marker.len()).any(|w| w == marker.as_slice()) {
                    return Ok(());
                }
                match read_some(conn, rec, &mut buf) {
                    Ok(0) => return Err(format!("EOF after {} bytes", seen.len())),
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                    Err(e) => return Err(format!("{e} after {} bytes", seen.len())),
                }
                // Keep only a tail: the body may be large.
                if seen.len() > 1 << 16 {
                    let cut = seen.len() - marker.len();
                    seen.drain(..cut);
                }
            }
        }
        Step::Send { bytes, coalesce } => {
            pending.extend_from_slice(bytes);
            if *coalesce {
                return Ok(());
            }
            let out = std::mem::take(pending);
            conn.write_all(&out).map_err(|e| e.to_string())
        }
        Step::TrySend(bytes) => {
            pending.extend_from_slice(bytes);
            let _ = conn.write_all(&std::mem::take(pending));
            Ok(())
        }
        Step::Flood { bytes, times } => {
            let mut out = std::mem::take(pending);
            for _ in 0..*times {
                out.extend_from_slice(bytes);
                if out.len() >= 1 << 16 {
                    if conn.write_all(&out).is_err() {
                        return Ok(());
                    }
                    out.clear();
                }
            }
            let _ = conn.write_all(&out);
            Ok(())
        }
        Step::Drip { bytes, gap } => {
            let _ = conn.write_all(&std::mem::take(pending));
            for b in bytes {
                if conn.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(*gap);
            }
            Ok(())
        }
        Step::Stall(d) => {
            std::thread::sleep(*d);
            Ok(())
        }
        Step::Close => {
            if let Some(s) = conn.tcp() {
                let _ = s.shutdown(Shutdown::Both);
            }
            *conn = Conn::Gone;
            Ok(())
        }
        Step::Reset => {
            if let Some(s) = conn.tcp() {
                socket2::SockRef::from(s)
                    .set_linger(Some(Duration::ZERO))
                    .map_err(|e| e.to_string())?;
            }
            *conn = Conn::Gone;
            Ok(())
        }
        Step::Tls | Step::TryTls => {
            let Conn::Plain(s) = std::mem::replace(conn, Conn::Gone) else {
                return Err("TLS on a connection that is not plain".into());
            };
            let (cert, key) = test_cert();
            let id = native_tls::Identity::from_pkcs8(cert, key).map_err(|e| e.to_string())?;
            let acceptor = native_tls::TlsAcceptor::new(id).map_err(|e| e.to_string())?;
            match acceptor.accept(s) {
                Ok(tls) => {
                    if *step == Step::TryTls {
                        return Err(
                            "the client completed a handshake it should have refused".into()
                        );
                    }
                    *conn = Conn::Tls(Box::new(tls));
                    Ok(())
                }
                Err(_) if *step == Step::TryTls => Ok(()),
                Err(e) => Err(format!("handshake: {e}")),
            }
        }
        Step::End | Step::Drain => {
            let mut buf = [0u8; 8192];
            let mut got = Vec::new();
            let deadline = Instant::now() + SERVER_WAIT;
            loop {
                match read_some(conn, rec, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    // A reset is a close too.
                    Err(e)
                        if e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::TimedOut =>
                    {
                        break;
                    }
                    Err(e) => return Err(format!("client did not close: {e}")),
                }
                if Instant::now() > deadline {
                    return Err("client did not close".into());
                }
            }
            if *step == Step::End && !got.is_empty() {
                return Err(format!("client sent {:?} after the end", lossy(&got)));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_format_parses() {
        let steps = parse(
            "# c\nC: EHLO x\nC^ MAIL\nC* \\r\\n.\\r\\n\nS+ 250-a\nS: 250 b\\s\nR: 250-p\nSTALL 5ms\nCLOSE\nRESET\nTLS\nEND\nFLOOD 2 x\nFLOOD~ 2 y\nDRIP 1ms z\n",
        )
        .unwrap();
        assert_eq!(steps[0], Step::Expect(b"EHLO x\r\n".to_vec()));
        assert_eq!(steps[1], Step::ExpectLineStarting(b"MAIL".to_vec()));
        assert_eq!(steps[2], Step::ReadUntil(b"\r\n.\r\n".to_vec()));
        assert_eq!(
            steps[3],
            Step::Send {
                bytes: b"250-a\r\n".to_vec(),
                coalesce: true
            }
        );
        assert_eq!(
            steps[4],
            Step::Send {
                bytes: b"250 b \r\n".to_vec(),
                coalesce: false
            }
        );
        assert_eq!(steps.len(), 14);
        assert!(parse("BOGUS").is_err());
        assert!(parse("S: \\q").is_err());
        // Every scenario file parses.
        for entry in std::fs::read_dir(scenario_dir()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            assert!(!load(&name).is_empty(), "{name}");
        }
    }
}
