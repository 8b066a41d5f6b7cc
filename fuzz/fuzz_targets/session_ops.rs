#![no_main]
//! Fuzzes whole client operations of `smtp_proto::session::Session`, the
//! layer both adapters drive, with arbitrary server bytes cut at arbitrary
//! points: the connect (greeting, EHLO, STARTTLS under a policy, the
//! second EHLO), a login (SCRAM-SHA-256 with a fixed nonce, SCRAM -PLUS
//! over a fake TLS channel, or the automatic mechanism order), a batch of
//! three messages to two recipients each (`send_many`, with PRDR, BDAT and
//! deep pipelining when the server offers them) and QUIT.
//!
//! Input layout: `[config] ([n] [n server bytes])*`. Bits of `config`:
//!
//! - bit 0: LMTP instead of SMTP;
//! - bit 1: STARTTLS under `Opportunistic` (else `Disabled`);
//! - bit 2: the fake TLS handshake fails;
//! - bits 3-4: the login: none, SCRAM-SHA-256, SCRAM-SHA-256-PLUS, `login`;
//! - bit 5: a window of one message (else the default);
//! - bit 6: a call deadline of 30 s;
//! - bit 7: a transaction deadline of 20 s, PRDR off.
//!
//! Each record is one read of `n` server bytes; `n = 0` instead moves the
//! clock to the session's next deadline (or 10 s on when it has none) and
//! reports the timeout. After the last record the server hangs up. Between
//! reads the clock moves 10 ms.
//!
//! Invariants: no panic; every operation ends (a bounded number of steps,
//! then `Action::Done` and a result); nothing is written after the server
//! hung up or the session became unusable; a batch has one result per
//! message and every report one entry per recipient; a session that fails
//! stays failed; the output of a whole run stays bounded.

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smtp_proto::auth::ScramSha256;
use smtp_proto::session::{Action, Bodies, Error, Options, Session, TlsPolicy, Window};
use smtp_proto::{Domain, Envelope, ForwardPath, Reply, ReversePath, TxnReport};

/// The three messages of the batch, to two recipients each.
const BODIES: [&[u8]; 3] = [
    b"Subject: one\r\n\r\nfirst\r\n",
    b"Subject: two\r\n\r\n.dot\r\nsecond\r\n",
    b"Subject: three\r\n\r\nthird",
];
/// More than any fixed run of these operations can write.
const MAX_OUTPUT: usize = 64 * 1024;
/// Steps of one operation before it counts as stuck.
const MAX_STEPS: usize = 100_000;

struct Run<'a> {
    session: Session,
    now: Instant,
    input: &'a [u8],
    tls_fails: bool,
    /// Every byte the client wrote.
    written: usize,
    /// The server hung up: nothing may be written from then on.
    hung_up: bool,
}

impl Run<'_> {
    /// One server read: the next record, a timeout, or the hang-up.
    fn read(&mut self) {
        self.now += Duration::from_millis(10);
        let Some((&n, rest)) = self.input.split_first() else {
            self.session.handle_eof(self.now);
            self.hung_up = true;
            return;
        };
        if n == 0 {
            self.input = rest;
            self.now = self
                .session
                .poll_timeout()
                .map_or(self.now + Duration::from_secs(10), |t| t.max(self.now));
            self.session.handle_timeout(self.now);
            return;
        }
        let n = usize::from(n).min(rest.len());
        let (bytes, rest) = rest.split_at(n);
        self.input = rest;
        self.session.handle_input(self.now, bytes);
    }

    /// Drives the running operation to its end, serving its requests.
    fn drive(&mut self, bodies: &mut Bodies<'_, &[u8]>, auth: Option<&mut ScramSha256>) {
        let mut auth = auth;
        let mut out = Vec::new();
        for _ in 0..MAX_STEPS {
            let action = self.session.poll_action(self.now);
            out.clear();
            let usable = self.session.check_usable();
            if self.session.poll_transmit(self.now, &mut out).is_some() {
                assert!(!self.hung_up, "wrote {out:?} after the server hung up");
                if let Err(e) = &usable {
                    assert!(
                        out.is_empty(),
                        "wrote {out:?} on a session unusable with {e:?}"
                    );
                }
                self.written += out.len();
                assert!(self.written <= MAX_OUTPUT, "output unbounded");
                continue;
            }
            match action {
                Action::Read => self.read(),
                Action::StartTls => {
                    if self.tls_fails {
                        self.session.tls_failed(Error::Timeout { stage: None });
                    } else {
                        self.session.set_channel_binding(Some(vec![7; 32]));
                        self.session.tls_established(self.now);
                    }
                }
                Action::Body { index } => {
                    if self.session.feed_body(bodies, index).is_some() {
                        panic!("in-memory bodies never need the driver");
                    }
                }
                Action::AuthAnswer => self.session.answer_with(auth.as_deref_mut()),
                Action::AuthFinish => self.session.finish_with(auth.as_deref_mut()),
                Action::Done => return,
                _ => panic!("an action this driver does not know: {action:?}"),
            }
        }
        panic!("the operation did not end in {MAX_STEPS} steps");
    }

    /// Runs one operation to its result; a failed session stays failed
    /// (`failed` says whether a result is a failure).
    fn op<T: smtp_proto::session::FromOutput>(
        &mut self,
        bodies: &mut Bodies<'_, &[u8]>,
        auth: Option<&mut ScramSha256>,
        failed: impl Fn(&Result<T, Error>) -> bool,
    ) -> Result<T, Error> {
        let usable_before = self.session.check_usable();
        self.drive(bodies, auth);
        let result = self.session.take_output::<T>();
        if let Err(e) = usable_before {
            assert!(
                failed(&result),
                "{} succeeded on a session unusable with {e:?}",
                std::any::type_name::<T>()
            );
        }
        result
    }
}

fn envelope(i: usize) -> Envelope {
    let from = ReversePath::parse("a@example.org").unwrap_or_else(|_| ReversePath::null());
    let to = [format!("b{i}@example.net"), format!("c{i}@example.net")]
        .iter()
        .filter_map(|r| ForwardPath::parse(r).ok())
        .collect::<Vec<_>>();
    Envelope::new(from, to)
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, input)) = data.split_first() else {
        return;
    };
    let mut options = Options::default();
    if config & 1 != 0 {
        options.config.dialect = smtp_proto::Dialect::Lmtp;
    }
    options.tls_policy = Some(if config & 2 != 0 {
        TlsPolicy::Opportunistic
    } else {
        TlsPolicy::Disabled
    });
    options.config.allow_plaintext_auth = true;
    if config & 32 != 0 {
        options.window = Window::new(1, 1 << 20);
    }
    if config & 64 != 0 {
        options.call_deadline = Some(Duration::from_secs(30));
    }
    if config & 128 != 0 {
        options.config.transaction_deadline = Some(Duration::from_secs(20));
        options.config = options.config.clone().with_prdr(false);
    }
    let now = Instant::now();
    let Ok(local) = Domain::parse("client.example") else {
        return;
    };
    let mut run = Run {
        session: Session::connect(&options, local, false, now),
        now,
        input,
        tls_fails: config & 4 != 0,
        written: 0,
        hung_up: false,
    };

    // Connect: greeting, EHLO, the TLS policy.
    let _ = run.op::<()>(&mut Bodies::None, None, Result::is_err);

    // Login.
    match (config >> 3) & 3 {
        1 | 2 => {
            let scram = if config & 16 != 0 {
                ScramSha256::plus("user", "pencil")
            } else {
                ScramSha256::with_nonce("user", "pencil", "rOprNGfwEbeRWgbNEkqO")
            };
            if let Ok(mut scram) = scram {
                run.session.authenticate(run.now, &mut scram);
                let _ = run.op::<Reply>(&mut Bodies::None, Some(&mut scram), Result::is_err);
            }
        }
        3 => {
            run.session.login(run.now, "user", "pencil");
            let _ = run.op::<Reply>(&mut Bodies::None, None, Result::is_err);
        }
        _ => {}
    }

    // A batch of three messages.
    let messages: Vec<(Envelope, &[u8])> = (0..BODIES.len())
        .map(|i| (envelope(i), BODIES[i]))
        .collect();
    run.session.send_many(run.now, &messages);
    let mut bodies = Bodies::Many(messages.iter().map(|(_, b)| *b).collect());
    if let Ok(results) = run.op::<Vec<Result<TxnReport, Error>>>(&mut bodies, None, |r| {
        // A batch on a failed session fails message by message.
        r.as_ref()
            .map_or(true, |all| all.iter().all(Result::is_err))
    }) {
        assert_eq!(results.len(), messages.len(), "one result per message");
        for (result, (envelope, _)) in results.iter().zip(&messages) {
            if let Ok(report) = result {
                assert_eq!(report.recipients.len(), envelope.recipients.len());
            }
        }
    }

    // QUIT.
    run.session.quit(run.now);
    let _ = run.op::<Reply>(&mut Bodies::None, None, Result::is_err);
});
