//! The `send` example end to end: its exit codes and its output lines.
//! The cases, scripted peers included, are in the dev crate
//! `smtp-testkit` (`smtp_testkit::cli_cases`), shared by both adapters'
//! examples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use smtp_testkit::cli_cases::Example;

/// The example is built with this test's TLS backend: the default
/// features, or rustls alone (scripts/test.sh runs the TLS tests both
/// ways).
const FEATURES: &[&str] = if cfg!(feature = "native-tls") {
    &[]
} else {
    &["--no-default-features", "--features", "rustls,builder"]
};

const EXAMPLE: Example = Example {
    package: "smtp-blocking",
    name: "send",
    features: FEATURES,
};

smtp_testkit::cli_cases!(EXAMPLE);
