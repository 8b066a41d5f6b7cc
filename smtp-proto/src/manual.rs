//! The design manual: why the engine behaves as it does. No code lives here.
//!
//! # 1. Sans-IO, one core
//!
//! The client never touches a socket or a clock. Bytes come in through
//! `handle_input`, time through the `now` arguments, and everything the client
//! wants to say comes out of `poll_transmit` and `poll_event`. The blocking
//! and Tokio adapters are small loops around the same core, so the protocol
//! logic exists exactly once; lettre, by contrast, writes it twice.
//!
//! Commands *enqueue*. Receiving a reply can cause output (the next pipelined
//! group, the EHLO after TLS, the `*` that cancels a bad AUTH challenge, the
//! RSET after a refused transaction), so only the core decides when each
//! command goes on the wire. `poll_transmit` takes `now` (quinn does the
//! same) because handing a command out is when its reply deadline starts.
//!
//! # 2. Negative replies are not errors
//!
//! A refused recipient, a full mailbox or a greylisting 450 are normal
//! outcomes of delivering mail. They arrive as events and end up in the
//! [`TxnReport`](crate::TxnReport), with code, enhanced code and text for
//! every recipient. [`Error`](crate::Error) is kept for the cases where the
//! conversation itself can no longer be trusted: a malformed reply, a reply
//! to nothing, data after the STARTTLS 220, a deadline, a lost connection,
//! or a 421.
//!
//! # 3. STARTTLS is a hard boundary
//!
//! When the 220 to STARTTLS arrives, the receive buffer must be empty. Bytes
//! that follow the 220 in plaintext would, after the handshake, be read as if
//! they had come over TLS: an attacker on the path could inject replies (the
//! CVE-2011-0411 family; the "NO STARTTLS" study found dozens of clients and
//! servers affected). The client therefore fails with
//! `ProtocolError::DataAfterStartTls` instead of handing such bytes on, and
//! accepts no input at all until `tls_established`. After the handshake
//! every capability learned in plaintext is forgotten and EHLO is sent again
//! (RFC 3207 §4.2); if that EHLO fails, the old capabilities do not come
//! back. While STARTTLS is outstanding nothing else can be queued, so a
//! refused STARTTLS can never be followed by AUTH or MAIL the caller queued
//! in the hope of TLS.
//!
//! # 4. Pipelining without losing track
//!
//! With PIPELINING (RFC 2920) the client sends MAIL, every RCPT and DATA in
//! one write, and the end of a message together with the next envelope.
//! Every reply is matched, in order, to the command it answers; the client
//! never skips a line to "re-align", because a misaligned reply (a QUIT
//! reply taken for the end-of-data reply) loses mail. A reply with nothing
//! outstanding is a protocol error. When DATA gets 354 although no recipient
//! was accepted, the client sends a lone "." so that nothing is delivered.
//! A refused MAIL is reported as "sender refused", not as N refused
//! recipients.
//!
//! # 5. LMTP replies fan out
//!
//! After the end of data an LMTP server sends one reply per accepted
//! recipient, in RCPT order (RFC 2033 §4.2); each can differ (one mailbox
//! over quota, the others fine). The client reads exactly that many and
//! reports each with `DeliveryScope::Recipient`. SMTP's single reply is
//! reported with `DeliveryScope::AllAccepted`, so mailer code has one path
//! for both dialects. smtplib reads a single reply in LMTP, a long-standing
//! bug.
//!
//! # 6. Timeouts, and the outcome nobody knows
//!
//! Deadlines follow RFC 5321 §4.5.3.2 and run from the moment a command is
//! handed out until its *complete* reply arrives: trickling bytes do not
//! extend them, so a slow-drip server cannot hold the client forever. When a
//! deadline passes or the connection drops after the final "." (or BDAT LAST)
//! and before its reply, the message may have been delivered: the report
//! says `TxnOutcome::Unknown`, never "failed", so that a queue runner does
//! not send duplicates without thinking.
//!
//! # 7. Bodies
//!
//! DATA bodies are streamed through [`BodyEncoder`](crate::body::BodyEncoder):
//! lone CR and lone LF become CRLF and leading dots are doubled, across any
//! chunk boundary, so the only end-of-data on the wire is the client's own.
//! BDAT bodies are length-counted and need no stuffing; text bodies still get
//! their line endings normalised, binary ones (BINARYMIME) go verbatim. An
//! 8-bit byte in a body declared 7-bit ends the session: a DATA body cannot
//! be withdrawn halfway, and sending it mislabelled is what the rule forbids.
//!
//! # 8. Secrets
//!
//! Passwords, tokens and AUTH responses travel as [`Secret`](crate::Secret),
//! whose `Debug` prints `<redacted>` in every build. AUTH command lines are
//! marked sensitive so traces can redact them. Mechanisms that reveal the
//! password (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) are refused without TLS
//! unless the caller opts in with `Config::allow_plaintext_auth`; nothing the
//! server advertises widens that policy.
//!
//! # 9. The client written once: sessions and drivers
//!
//! Above the engine, [`session::Session`](crate::session::Session) runs the
//! operations an application calls (open with a TLS policy, `login`,
//! `send`, `send_many`, ...) and makes every decision they involve: which
//! AUTH mechanism, when to give up on one, whether a missing STARTTLS ends
//! the session, when body bytes are wanted, what a failure means for each
//! message of a batch. A *driver* only moves bytes, performs the TLS
//! handshake when told, hands over body bytes when asked, and waits for
//! the earliest of "readable" and the deadline. `smtp-blocking` and
//! `smtp-tokio` are two drivers; `examples/many_sessions.rs` is a third
//! (many sessions on one thread). Even the adapters' public methods and
//! builders are generated from one source
//! ([`client_methods!`](crate::client_methods), [`builder!`](crate::builder)),
//! so the two cannot drift.
//!
//! # 10. Secure defaults
//!
//! A builder requires TLS (STARTTLS, or implicit TLS on port 465) unless
//! the caller says `insecure_plaintext()`; no AUTH of any mechanism runs
//! without TLS unless `allow_plaintext_auth` (CRAM-MD5 would reveal the
//! user name and an offline-crackable answer, and an attacker who strips
//! STARTTLS can offer it); a refused password is not tried again with
//! another mechanism (that only adds attempts towards a lock-out). Default
//! deadlines suit submission ([`Timeouts::submission`](crate::Timeouts::submission)):
//! a wrong port fails within half a minute and says it may be a TLS port,
//! while the reply to the end of data keeps RFC 5321's ten minutes, since
//! giving up there only turns a delivery into an unknown outcome. MTAs
//! choose [`Timeouts::rfc5321`](crate::Timeouts::rfc5321).
