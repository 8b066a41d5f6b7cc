//! [`SmtpClient`]: smtplib's `SMTP`, `SMTP_SSL` and `LMTP` classes as one
//! type. Each method starts an operation of the sans-IO
//! [`Session`] and drives it to its result; what the operation does
//! (EHLO first when needed, the TLS policy, the login order, how the body
//! is sent, what a refusal means) is documented on the session's method of
//! the same name.

use std::ops::Deref;

use smtp_proto::Reply;
use smtp_proto::session::{Error, Session};

#[cfg(doc)]
use crate::builder::Builder;
use crate::driver::{Driver, Feed, now};

/// An SMTP or LMTP session over a blocking socket: smtplib's `SMTP`,
/// `SMTP_SSL` and `LMTP` in one type (the [`Builder`] picks which).
///
/// Connecting waits for the greeting and sends EHLO (LHLO) at once, so
/// [`esmtp_features`](Session::esmtp_features) is filled from the start.
/// smtplib's attributes (`ehlo_resp`, `does_esmtp`, `has_extn`, ...) are
/// the [`Session`]'s getters, reached through `Deref`.
///
/// Dropping the client sends QUIT when the session is healthy and idle
/// (smtplib's `with` block), within a few seconds at most; the result is
/// ignored, so it can never hide the error that made the caller leave.
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
    smtp_proto::client_methods! {
        async: [],
        await: [],
        send: [],
        read: [std::io::Read],
    }
}

impl Drop for SmtpClient {
    fn drop(&mut self) {
        if self.driver.session.quit_on_drop(now()) {
            let _: Result<Reply, Error> = self.driver.run(<Feed<'_>>::none());
        }
        self.driver.close();
    }
}
