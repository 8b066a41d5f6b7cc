//! [`Phase`]: where the session is, as the caller sees it. A leaf module, so
//! that [`UsageError`](crate::UsageError) can name a phase without depending
//! on the state machine.

/// The phase of a session.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for the server's greeting.
    Greeting,
    /// Greeted; no successful EHLO/HELO yet (or since the TLS handshake).
    Connected,
    /// EHLO/HELO succeeded: AUTH, STARTTLS and mail may follow.
    Ready,
    /// STARTTLS was accepted; the caller must run the TLS handshake.
    AwaitingTls,
    /// The greeting was refused; only the automatic QUIT remains.
    Closing,
    /// The session ended normally.
    Closed,
    /// The session ended with a fatal error.
    Failed,
}
