//! [`SmtpClient`]: smtplib's `SMTP`, `SMTP_SSL` and `LMTP` classes as one
//! type, `async`. Each method starts an operation of the sans-IO
//! [`Session`] and drives it to its result; what the operation does
//! (EHLO first when needed, the TLS policy, the login order, how the body
//! is sent, what a refusal means) is documented on the session's method of
//! the same name.

use std::ops::Deref;

use smtp_proto::session::Session;

#[cfg(doc)]
use crate::Error;
#[cfg(doc)]
use crate::builder::Builder;
use crate::driver::Driver;

/// An SMTP or LMTP session over a Tokio stream: smtplib's `SMTP`,
/// `SMTP_SSL` and `LMTP` in one type (the [`Builder`] picks which).
///
/// Connecting waits for the greeting and sends EHLO (LHLO) at once, so
/// [`esmtp_features`](Session::esmtp_features) is filled from the start.
/// smtplib's attributes (`ehlo_resp`, `does_esmtp`, `has_extn`, ...) are
/// the [`Session`]'s getters, reached through `Deref`.
///
/// # Cancellation
///
/// | methods | dropped before completion |
/// |---|---|
/// | [`Builder::connect`] and friends, [`SmtpClient::connect`], `connect_tls`, `connect_lmtp` | safe: the half-made connection is dropped |
/// | every other `async` method | the connection is **poisoned**: every later call returns [`Error::Poisoned`]; a message whose final "." was already written may have been delivered |
/// | `close`, getters, `set_debuglevel` | not `async` |
///
/// Dropping the client sends QUIT when the session is healthy and idle, in
/// one non-blocking write without waiting for the reply (an `async` drop
/// does not exist); call [`quit`](Self::quit) to wait for it.
#[derive(Debug)]
pub struct SmtpClient {
    pub(crate) driver: Driver,
}

impl Deref for SmtpClient {
    type Target = Session;

    /// The session: smtplib's attributes and the engine, read-only.
    fn deref(&self) -> &Session {
        &self.driver.session
    }
}

impl SmtpClient {
    /// A closed client with no connection (what a pooled client leaves
    /// behind when its connection goes back to the pool).
    pub(crate) fn detached() -> SmtpClient {
        SmtpClient {
            driver: Driver::detached(),
        }
    }

    smtp_proto::client_methods! {
        async: [async],
        await: [.await],
        send: [+ Send],
        read: [tokio::io::AsyncRead + Unpin],
    }
}

impl Drop for SmtpClient {
    fn drop(&mut self) {
        self.driver.quit_nowait();
    }
}
