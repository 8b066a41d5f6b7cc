//! Test support shared by both adapters, `smtp-blocking` and `smtp-tokio`
//! (a dev-dependency of each; never published). Nothing here depends on an
//! adapter: where a piece needs one (a builder, a client call), the
//! adapter's own test or example supplies it.
//!
//! - [`hostile`]: a scripted hostile SMTP server (std threads, scenarios in
//!   `scenarios/*.scn` beside this crate's `Cargo.toml`);
//! - [`hostile_cases`]: the case table both adapters run against it;
//! - [`secrets_cases`]: the AUTH secrets sweep;
//! - [`scram`]: SCRAM-SHA-256 from the server's side, and the SCRAM fault table;
//! - [`real_servers`]: the real servers of `scripts/test-servers.sh`;
//! - [`cli_cases`](mod@cli_cases): the `send` examples' end-to-end cases (run by each
//!   adapter through [`cli_cases!`]);
//! - [`send_cli`]: the IO-free half of both `send` examples;
//! - [`pipelining_sink`]: a pipelining sink for the system-call counts.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod cli_cases;
pub mod hostile;
pub mod hostile_cases;
pub mod pipelining_sink;
pub mod real_servers;
pub mod scram;
pub mod secrets_cases;
pub mod send_cli;
pub mod soak;
