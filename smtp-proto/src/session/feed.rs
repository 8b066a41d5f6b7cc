//! [`Feed`]: what the caller hands an operation besides its arguments (the
//! message bodies and an authenticator), in a form every driver shares.
//! Bodies held in memory are served by the session itself
//! ([`Session::feed_body`]); only a body read from a source needs the
//! driver's IO.

use std::collections::VecDeque;

use crate::auth::Authenticator;
use crate::secret::Secret;

use super::Session;

/// Where an operation's message bodies come from. Generic over the source
/// type `R`, so that an async driver's future is `Send` exactly when the
/// caller's source is.
#[non_exhaustive]
pub enum Bodies<'a, R> {
    /// The operation sends no body.
    None,
    /// One body read from a source by the driver, in pieces of at most
    /// [`BODY_CHUNK`](super::BODY_CHUNK) bytes.
    Reader(&'a mut R),
    /// One body held in memory as these pieces, in order.
    Parts(VecDeque<&'a [u8]>),
    /// One in-memory body per message of a batch.
    Many(Vec<&'a [u8]>),
}

/// The bodies and the authenticator of one operation. `A` is the
/// authenticator's trait object type (`dyn Authenticator`, or
/// `dyn Authenticator + Send` for an async driver).
pub struct Feed<'a, R, A: ?Sized> {
    /// The message bodies.
    pub bodies: Bodies<'a, R>,
    /// The caller's authenticator, for [`Action::AuthAnswer`](super::Action).
    pub auth: Option<&'a mut A>,
}

impl<'a, R, A: ?Sized> Feed<'a, R, A> {
    /// Nothing to feed.
    pub fn none() -> Self {
        Feed {
            bodies: Bodies::None,
            auth: None,
        }
    }

    /// One body held in memory as these pieces.
    pub fn parts(parts: impl Into<VecDeque<&'a [u8]>>) -> Self {
        Feed {
            bodies: Bodies::Parts(parts.into()),
            auth: None,
        }
    }

    /// One in-memory body per message.
    pub fn many(bodies: Vec<&'a [u8]>) -> Self {
        Feed {
            bodies: Bodies::Many(bodies),
            auth: None,
        }
    }

    /// One body read from `source`.
    pub fn reader(source: &'a mut R) -> Self {
        Feed {
            bodies: Bodies::Reader(source),
            auth: None,
        }
    }

    /// The caller's authenticator.
    pub fn auth(auth: &'a mut A) -> Self {
        Feed {
            bodies: Bodies::None,
            auth: Some(auth),
        }
    }
}

impl Session {
    /// Serves [`Action::Body`](super::Action) for message `index` from
    /// memory; returns the source when the body must be read by the
    /// driver (then call [`push_body`](Self::push_body) with what it read).
    pub fn feed_body<'f, R>(
        &mut self,
        bodies: &'f mut Bodies<'_, R>,
        index: usize,
    ) -> Option<&'f mut R> {
        match bodies {
            Bodies::Reader(source) => return Some(&mut **source),
            Bodies::Parts(parts) => self.push_parts(parts),
            Bodies::Many(all) => match all.get_mut(index) {
                Some(body) => self.push_slice(body),
                None => self.push_body(&[], true),
            },
            Bodies::None => self.push_body(&[], true),
        }
        None
    }

    /// Serves [`Action::AuthAnswer`](super::Action) with the caller's
    /// authenticator (none cancels the exchange).
    pub fn answer_with<A: Authenticator + ?Sized>(&mut self, auth: Option<&mut A>) {
        let challenge = self.challenge.take();
        let answer: Option<Secret<Vec<u8>>> = match (auth, &challenge) {
            (Some(a), Some(c)) => a.respond(c.expose()),
            _ => None,
        };
        self.answer_auth(answer);
    }

    /// Serves [`Action::AuthFinish`](super::Action) with the caller's
    /// authenticator's [`finish`](Authenticator::finish) (none accepts).
    pub fn finish_with<A: Authenticator + ?Sized>(&mut self, auth: Option<&mut A>) {
        let verdict = auth.map_or(Ok(()), |a| a.finish());
        self.auth_finished(verdict);
    }
}
