//! [`Secret`]: a wrapper whose `Debug` never shows what it holds.

use std::fmt;

/// A value that must never be printed: passwords, AUTH responses, tokens.
///
/// `Debug` always prints `Secret(<redacted>)`, in debug and release builds
/// alike; there is deliberately no `Display`. Read the value with
/// [`Secret::expose`], which makes every place that looks at it greppable.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the secret value.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new(b"hunter2".to_vec());
        let shown = format!("{s:?} {s:#?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("104")); // 'h' as a byte
        assert_eq!(s.expose(), b"hunter2");
    }
}
