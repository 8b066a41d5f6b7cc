//! The wire trace of `set_debuglevel` is [`smtp_proto::trace`]: what is
//! printed and what is redacted is protocol knowledge. The engine reads no
//! clock and opens nothing, so this adapter gives it stderr here and
//! `SystemTime::now()` at each call.

/// The session's wire trace, on stderr.
pub(crate) type Trace = smtp_proto::trace::Trace<std::io::Stderr>;

/// A trace at `level` (0 off) writing to stderr.
pub(crate) fn stderr(level: u8) -> Trace {
    Trace::new(level, std::io::stderr())
}
