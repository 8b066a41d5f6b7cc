//! No secret in the Tokio adapter's `Debug`/`Display` output or wire
//! trace, for every AUTH mechanism (issue 7 item 4; rule 11 of `smtp-proto/tests/README.md`).
//! The sessions and needles are in the dev crate `smtp-testkit`
//! (`smtp_testkit::secrets_cases`), shared with the blocking adapter. The
//! trace goes to stderr, so [`auth_secrets_sweep`] runs itself again as a
//! child process and sweeps the child's stderr.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use hostile::Server;
use secrets_cases::{ENDINGS, Ending, MECHS, Mech, sweep, sweep_result};
use smtp_testkit::{hostile, secrets_cases};
use smtp_tokio::smtp_proto::Domain;
use smtp_tokio::{Builder, SmtpClient, TlsPolicy};

async fn session(mech: Mech, ending: Ending) {
    let what = format!("{mech:?}/{ending:?}");
    eprintln!("{}", secrets_cases::marker(mech, ending));
    let server = Server::start(hostile::parse(&secrets_cases::scenario(mech, ending)).unwrap());
    let builder = Builder::new()
        .local_hostname(Domain::parse("client.test").unwrap())
        .timeout(Duration::from_secs(5))
        .starttls(TlsPolicy::Disabled)
        .allow_plaintext_auth(true)
        .debuglevel(2);
    sweep("builder", &builder);
    let mut client: SmtpClient = builder
        .connect_port("127.0.0.1", server.port())
        .await
        .unwrap();
    client.set_debuglevel(2);
    sweep(&format!("client before AUTH {what}"), &client);
    let mut auth = secrets_cases::authenticator(mech);
    let r = match auth.as_mut() {
        Some(a) => client.authenticate(a.as_auth()).await,
        None => client.auth("PLAIN", secrets_cases::plain_fn).await,
    };
    secrets_cases::check_outcome(&what, ending, &r);
    sweep_result(&format!("AUTH result {what}"), &r);
    sweep(&format!("client after AUTH {what}"), &client);
    if let Some(a) = &auth {
        sweep(&format!("authenticator after use {what}"), a);
    }
    match ending {
        Ending::Accepted | Ending::Refused => {
            let q = client.quit().await;
            sweep_result(&format!("QUIT result {what}"), &q);
        }
        Ending::Eof => {
            assert!(!client.is_connected(), "{what}: still connected after EOF");
            // The poisoned session's next error too.
            let n = client.noop().await;
            assert!(n.is_err(), "{what}: NOOP after EOF: {n:?}");
            sweep_result(&format!("NOOP after EOF {what}"), &n);
        }
    }
    sweep(&format!("client at the end {what}"), &client);
    drop(client);
    let received = tokio::task::spawn_blocking(move || server.finish())
        .await
        .unwrap();
    let received = String::from_utf8_lossy(&received).into_owned();
    let wire = secrets_cases::wire_secret(mech);
    assert!(
        received.contains(&wire),
        "{what}: the secret {wire:?} never went over the wire: {received:?}"
    );
}

#[test]
fn auth_secrets_sweep() {
    if secrets_cases::is_child() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for mech in MECHS {
                for ending in ENDINGS {
                    session(mech, ending).await;
                }
            }
        });
        return;
    }
    let stderr = secrets_cases::run_child("auth_secrets_sweep");
    secrets_cases::check_trace(&stderr);
}
