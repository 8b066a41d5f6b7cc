//! [`Output`]: what a finished operation produced, and [`FromOutput`], the
//! typed view a driver asks for with
//! [`Session::take_output`](super::Session::take_output).

use crate::event::TxnReport;
use crate::reply::Reply;
use crate::smtplib::Refused;
use crate::txn::Envelope;

use super::Error;

/// The result of a finished operation.
#[non_exhaustive]
#[derive(Debug)]
pub enum Output {
    /// Nothing to report (the connection is open, EHLO was not needed).
    Unit,
    /// A server reply (NOOP, VRFY, QUIT, a successful AUTH, ...).
    Reply(Reply),
    /// STARTTLS: the 220 reply, or `None` when the policy let the session
    /// continue in plaintext.
    MaybeReply(Option<Reply>),
    /// One transaction's full report.
    Report(TxnReport),
    /// smtplib's `sendmail` result: the refused recipients.
    Refused(Refused),
    /// `send_message_reader`: the envelope taken from the headers and the
    /// report.
    Sent(Box<(Envelope, TxnReport)>),
    /// `send_many`: one result per message, in order.
    Batch(Vec<Result<TxnReport, Error>>),
}

/// A type an operation's [`Output`] can be read as.
pub trait FromOutput: Sized {
    /// `Some` when `output` is of this kind.
    fn from_output(output: Output) -> Option<Self>;
}

impl FromOutput for () {
    fn from_output(output: Output) -> Option<Self> {
        matches!(output, Output::Unit).then_some(())
    }
}

impl FromOutput for Reply {
    fn from_output(output: Output) -> Option<Self> {
        match output {
            Output::Reply(r) => Some(r),
            _ => None,
        }
    }
}

impl FromOutput for Option<Reply> {
    fn from_output(output: Output) -> Option<Self> {
        match output {
            Output::MaybeReply(r) => Some(r),
            _ => None,
        }
    }
}

impl FromOutput for TxnReport {
    fn from_output(output: Output) -> Option<Self> {
        match output {
            Output::Report(r) => Some(r),
            _ => None,
        }
    }
}

impl FromOutput for Refused {
    fn from_output(output: Output) -> Option<Self> {
        match output {
            Output::Refused(r) => Some(r),
            _ => None,
        }
    }
}

impl FromOutput for (Envelope, TxnReport) {
    fn from_output(output: Output) -> Option<Self> {
        match output {
            Output::Sent(s) => Some(*s),
            _ => None,
        }
    }
}

impl FromOutput for Vec<Result<TxnReport, Error>> {
    fn from_output(output: Output) -> Option<Self> {
        match output {
            Output::Batch(b) => Some(b),
            _ => None,
        }
    }
}
