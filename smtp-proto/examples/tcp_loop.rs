//! The run-loop contract as running code: one message sent over a plain
//! `std::net::TcpStream`, with `smtp_proto::Client` driven by hand.
//!
//! ```text
//! cargo run -p smtp-client-proto --example tcp_loop -- 127.0.0.1:25 from@example.org to@example.org < message.eml
//! ```
//!
//! No TLS and no AUTH, to keep the loop readable; the adapter crates add
//! those on top of the same loop.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use smtp_proto::{BodyOptions, Client, Config, Envelope, Event, ForwardPath, ReversePath};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(from), Some(to)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: tcp_loop HOST:PORT FROM TO < MESSAGE".into());
    };
    let envelope = Envelope::new(ReversePath::parse(&from)?, [ForwardPath::parse(&to)?]);
    let mut body = Vec::new();
    std::io::stdin().read_to_end(&mut body)?;

    // 1. Connect, then create the client: the greeting deadline starts now.
    let mut stream = TcpStream::connect(&addr)?;
    stream.set_nodelay(true)?;
    let mut client = Client::new(Config::default(), Instant::now());

    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut mail_started = false;
    loop {
        // 2. Drain output and events until neither produces anything: an
        //    event may lead to a command, and a command to more output.
        loop {
            out.clear();
            let n = client.poll_transmit(Instant::now(), &mut out);
            stream.write_all(&out)?;
            let mut any_event = false;
            while let Some(event) = client.poll_event() {
                any_event = true;
                match event {
                    Event::Hello { reply, .. } if !mail_started => {
                        if !reply.code().is_positive_completion() {
                            return Err(format!("EHLO refused: {reply}").into());
                        }
                        client.send_mail(&envelope, BodyOptions::for_body(&body))?;
                        mail_started = true;
                    }
                    Event::ReadyForBody { .. } => {
                        client.send_body(&body)?;
                        client.finish_body()?;
                    }
                    Event::TransactionFinished { report, .. } => {
                        println!("outcome: {:?}", report.outcome);
                        for (rcpt, reply) in report.refused() {
                            println!("refused {rcpt}: {reply}");
                        }
                        client.quit()?;
                    }
                    Event::Closed { reply } => {
                        if let Some(reply) = reply {
                            println!("closed: {reply}");
                        }
                        return Ok(());
                    }
                    other => eprintln!("event: {other:?}"),
                }
            }
            if n == 0 && !any_event {
                break;
            }
        }

        // 3. Wait for input or the deadline, whichever comes first.
        let timeout = client
            .poll_timeout()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
            .map(|left| left.max(Duration::from_millis(1)));
        stream.set_read_timeout(timeout)?;
        match stream.read(&mut buf) {
            Ok(0) => client.handle_eof(Instant::now())?,
            Ok(n) => client.handle_input(Instant::now(), buf.get(..n).unwrap_or_default())?,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                client.handle_timeout(Instant::now())?;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}
