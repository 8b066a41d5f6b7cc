//! [`Pool`]: many messages to one server over a bounded set of reused
//! connections.
//!
//! See [`Pool`] for what the pool promises.

use std::future::{Future, poll_fn};
use std::io;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use smtp_proto::{BodyOptions, Envelope, Secret, TxnReport};
use tokio::io::AsyncRead;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::{Builder, Error, Refused, SmtpClient};

/// How long `close` waits for each QUIT reply.
const QUIT_BUDGET: Duration = Duration::from_secs(5);
/// Messages one `send_many` worker sends per pipelined batch.
const BATCH: usize = 32;

/// The command that proves an idle connection is alive before reuse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HealthCheck {
    /// RSET: also clears any transaction state the server might hold.
    #[default]
    Rset,
    /// NOOP: the lightest command.
    Noop,
}

/// Pool settings; `PoolConfig::default()` and the `with_*` methods.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Most connections at once, idle ones included (default 10).
    pub max_size: usize,
    /// An idle connection older than this is closed, not reused
    /// (default 60 s; Postfix drops idle clients after 300 s).
    pub idle_timeout: Duration,
    /// Transactions started on one connection before it is retired
    /// (default 100; `None`: no limit).
    pub max_messages: Option<usize>,
    /// The health check before reuse (default RSET).
    pub health_check: HealthCheck,
    /// A connection back in the pool for less than this is reused without
    /// the health check's round trip when a look at its socket finds
    /// neither input nor an end of file (default 2 s; `Duration::ZERO`:
    /// always check). A server that closed or said 421 meanwhile is caught
    /// by that look; what it cannot catch is a peer that vanished without a
    /// word in the last moments, or a 421 a TLS layer had already read off
    /// the socket: the next command then meets it as an error (before any
    /// message data is accepted, so nothing is lost or doubled). Streams
    /// that cannot be looked at (Unix sockets, the caller's own) are always
    /// checked.
    pub quiet_reuse: Duration,
    /// Deadline of the health check (default 10 s).
    pub check_timeout: Duration,
    /// Credentials for [`SmtpClient::login`] on every new connection.
    login: Option<(String, Secret<String>)>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 10,
            idle_timeout: Duration::from_secs(60),
            max_messages: Some(100),
            health_check: HealthCheck::Rset,
            quiet_reuse: Duration::from_secs(2),
            check_timeout: Duration::from_secs(10),
            login: None,
        }
    }
}

impl PoolConfig {
    /// Sets [`PoolConfig::max_size`] (at least 1).
    #[must_use]
    pub fn with_max_size(mut self, n: usize) -> Self {
        self.max_size = n.max(1);
        self
    }

    /// Sets [`PoolConfig::idle_timeout`].
    #[must_use]
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Sets [`PoolConfig::max_messages`] (`Some(0)` counts as 1).
    #[must_use]
    pub fn with_max_messages(mut self, n: Option<usize>) -> Self {
        self.max_messages = n.map(|n| n.max(1));
        self
    }

    /// Sets [`PoolConfig::quiet_reuse`].
    #[must_use]
    pub fn with_quiet_reuse(mut self, d: Duration) -> Self {
        self.quiet_reuse = d;
        self
    }

    /// Sets [`PoolConfig::health_check`].
    #[must_use]
    pub fn with_health_check(mut self, check: HealthCheck) -> Self {
        self.health_check = check;
        self
    }

    /// Sets [`PoolConfig::check_timeout`].
    #[must_use]
    pub fn with_check_timeout(mut self, d: Duration) -> Self {
        self.check_timeout = d;
        self
    }

    /// Logs in (smtplib's `login`) on every new connection.
    #[must_use]
    pub fn with_login(mut self, user: &str, password: &str) -> Self {
        self.login = Some((user.to_owned(), Secret::new(password.to_owned())));
        self
    }
}

/// Counters, for monitoring and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Idle connections now.
    pub idle: usize,
    /// Connections checked out now.
    pub in_use: usize,
    /// Connections opened so far.
    pub opened: usize,
    /// Times an idle connection passed its health check and was reused.
    pub reused: usize,
    /// Connections discarded: failed check, expired, poisoned, limit.
    pub discarded: usize,
}

/// A bounded pool of connections to one server; cheap to clone (clones
/// share the connections).
///
/// What the pool promises:
///
/// - **Bounded**: at most [`PoolConfig::max_size`] connections exist at
///   once (idle ones included); [`Pool::get`] waits for one to come back.
/// - **Nothing dead is handed out**: before an idle connection is reused it
///   must answer a health check (RSET or NOOP) positively within
///   [`PoolConfig::check_timeout`], unless it came back less than
///   [`PoolConfig::quiet_reuse`] ago and its socket shows neither input
///   nor an end of file (a look that costs no round trip: a pool feeding
///   one message after another does not pay a round trip per message for
///   its check). A 421, end of file, timeout, protocol error, or a
///   connection poisoned by a cancelled call is discarded and another one
///   tried or opened.
/// - **Idle timeout**: a connection idle for longer than
///   [`PoolConfig::idle_timeout`] is closed instead of reused.
/// - **Message limit**: a connection that has started
///   [`PoolConfig::max_messages`] transactions is retired.
/// - **Graceful close**: [`Pool::close`] sends QUIT on every idle connection
///   and waits for the replies; connections still checked out are closed
///   (QUIT without waiting) when they come back.
///
/// The pool spawns no task: idle connections are looked at only when
/// someone asks for one, so a server that drops an idle connection costs
/// one failed health check, never a dead connection handed out.
///
/// ```no_run
/// use smtp_tokio::{Builder, Pool, PoolConfig, TlsPolicy};
/// # async fn f() -> Result<(), smtp_tokio::Error> {
/// let pool = Pool::new(
///     Builder::new().starttls(TlsPolicy::Required),
///     "mail.example.org:587",
///     PoolConfig::default().with_max_size(4).with_login("user", "password"),
/// );
/// pool.sendmail("me@example.org", &["you@example.org"], b"Subject: hi\r\n\r\nHello.\r\n", &[], &[])
///     .await?;
/// pool.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    builder: Builder,
    host: String,
    config: PoolConfig,
    idle: Mutex<Vec<Idle>>,
    /// One permit per checked-out connection.
    slots: Arc<Semaphore>,
    closed: AtomicBool,
    opened: AtomicUsize,
    reused: AtomicUsize,
    discarded: AtomicUsize,
}

#[derive(Debug)]
struct Idle {
    client: SmtpClient,
    since: Instant,
}

/// A connection checked out of a [`Pool`]; dereferences to
/// [`SmtpClient`]. Dropping it returns the connection to the pool when it
/// is healthy and idle, and closes it otherwise (a cancelled call, a fatal
/// error, an open transaction, the message limit, a closed pool).
#[derive(Debug)]
pub struct PooledClient {
    client: SmtpClient,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
    reused: bool,
}

impl PooledClient {
    /// Whether this connection was reused from the pool (rather than
    /// opened for this checkout).
    pub fn is_reused(&self) -> bool {
        self.reused
    }
}

impl Deref for PooledClient {
    type Target = SmtpClient;
    fn deref(&self) -> &SmtpClient {
        &self.client
    }
}

impl DerefMut for PooledClient {
    fn deref_mut(&mut self) -> &mut SmtpClient {
        &mut self.client
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        let client = std::mem::replace(&mut self.client, SmtpClient::detached());
        self.pool.put_back(client);
    }
}

impl Inner {
    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        // A panic elsewhere while holding the lock leaves a valid Vec.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn put_back(&self, client: SmtpClient) {
        let under_limit = self
            .config
            .max_messages
            .is_none_or(|max| client.transactions() < max);
        let reusable = !self.closed.load(Ordering::Acquire)
            && client.is_connected()
            && client.engine().is_idle()
            && under_limit;
        if reusable {
            self.idle().push(Idle {
                client,
                since: Instant::now(),
            });
        } else {
            self.discarded.fetch_add(1, Ordering::Relaxed);
            // Dropping sends QUIT without waiting when the session is
            // healthy; a poisoned one is just closed.
            drop(client);
        }
    }

    async fn healthy(&self, client: &mut SmtpClient) -> bool {
        let check = async {
            match self.config.health_check {
                HealthCheck::Rset => client.rset().await,
                HealthCheck::Noop => client.noop().await,
            }
        };
        match tokio::time::timeout(self.config.check_timeout, check).await {
            Ok(Ok(reply)) => reply.code().is_positive_completion(),
            _ => false,
        }
    }

    async fn open(&self) -> Result<SmtpClient, Error> {
        let mut client = self.builder.connect(&self.host).await?;
        if let Some((user, password)) = &self.config.login {
            client.login(user, password.expose()).await?;
        }
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(client)
    }
}

fn pool_closed() -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::NotConnected,
        "the pool is closed",
    ))
}

impl Pool {
    /// A pool of connections made with `builder` to `host` (as in
    /// [`Builder::connect`]). Nothing is connected until needed.
    pub fn new(builder: Builder, host: &str, config: PoolConfig) -> Pool {
        let max = config.max_size.max(1);
        Pool {
            inner: Arc::new(Inner {
                builder,
                host: host.to_owned(),
                config,
                idle: Mutex::new(Vec::new()),
                slots: Arc::new(Semaphore::new(max)),
                closed: AtomicBool::new(false),
                opened: AtomicUsize::new(0),
                reused: AtomicUsize::new(0),
                discarded: AtomicUsize::new(0),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// The counters.
    pub fn stats(&self) -> PoolStats {
        let max = self.inner.config.max_size.max(1);
        PoolStats {
            idle: self.inner.idle().len(),
            in_use: max.saturating_sub(self.inner.slots.available_permits()),
            opened: self.inner.opened.load(Ordering::Relaxed),
            reused: self.inner.reused.load(Ordering::Relaxed),
            discarded: self.inner.discarded.load(Ordering::Relaxed),
        }
    }

    /// A connection: the most recently used idle one that passes its
    /// health check, or a new one. Waits while `max_size` connections are
    /// checked out. Cancellation-safe: a connection being checked when the
    /// future is dropped is discarded, never returned to the pool.
    ///
    /// # Errors
    /// Whatever connecting (and logging in) fails with; an I/O error of
    /// kind `NotConnected` once the pool is closed.
    pub async fn get(&self) -> Result<PooledClient, Error> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(pool_closed());
        }
        let permit = Arc::clone(&self.inner.slots)
            .acquire_owned()
            .await
            .map_err(|_| pool_closed())?;
        loop {
            let candidate = self.inner.idle().pop();
            let Some(Idle { mut client, since }) = candidate else {
                break;
            };
            if since.elapsed() > self.inner.config.idle_timeout {
                self.inner.discarded.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let fresh = since.elapsed() < self.inner.config.quiet_reuse;
            if fresh && client.driver.quiet() == Some(true) || self.inner.healthy(&mut client).await
            {
                self.inner.reused.fetch_add(1, Ordering::Relaxed);
                return Ok(PooledClient {
                    client,
                    pool: Arc::clone(&self.inner),
                    _permit: permit,
                    reused: true,
                });
            }
            self.inner.discarded.fetch_add(1, Ordering::Relaxed);
        }
        let client = self.inner.open().await?;
        Ok(PooledClient {
            client,
            pool: Arc::clone(&self.inner),
            _permit: permit,
            reused: false,
        })
    }

    /// [`SmtpClient::sendmail`] on a pooled connection.
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`SmtpClient::sendmail`].
    pub async fn sendmail(
        &self,
        from_addr: &str,
        to_addrs: &(impl smtp_proto::smtplib::ToAddrs + ?Sized),
        msg: &[u8],
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Refused, Error> {
        let mut conn = self.get().await?;
        conn.sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)
            .await
    }

    /// [`SmtpClient::send`] on a pooled connection: `Ok` only when every
    /// recipient got the message.
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`SmtpClient::send`].
    pub async fn send<R: AsyncRead + Unpin>(
        &self,
        envelope: &Envelope,
        body: R,
    ) -> Result<TxnReport, Error> {
        let mut conn = self.get().await?;
        conn.send(envelope, body).await
    }

    /// [`SmtpClient::send_report`] on a pooled connection.
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`SmtpClient::send_report`].
    pub async fn send_report<R: AsyncRead + Unpin>(
        &self,
        envelope: &Envelope,
        body: R,
        options: BodyOptions,
    ) -> Result<TxnReport, Error> {
        let mut conn = self.get().await?;
        conn.send_report(envelope, body, options).await
    }

    /// Sends a batch of in-memory messages over up to `max_size`
    /// connections at once, each pipelining its share with
    /// [`SmtpClient::send_many`]; runs in the caller's task (no spawning).
    /// One result per message, in order, with the meaning given at
    /// [`SmtpClient::send_many`]; a message that could not get a connection
    /// holds the connection error.
    pub async fn send_many<B: AsRef<[u8]> + Sync>(
        &self,
        messages: &[(Envelope, B)],
    ) -> Vec<Result<TxnReport, Error>> {
        let results: Mutex<Vec<Option<Result<TxnReport, Error>>>> =
            Mutex::new(messages.iter().map(|_| None).collect());
        let next = AtomicUsize::new(0);
        let workers = self.inner.config.max_size.max(1).min(messages.len());
        let futures: Vec<_> = (0..workers)
            .map(|_| self.worker(messages, &next, &results))
            .collect();
        join_all(futures).await;
        let results = results
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::Poisoned {
                        cause: "message not attempted".to_owned(),
                    })
                })
            })
            .collect()
    }

    /// One `send_many` worker: claims batches of messages and sends each
    /// batch pipelined on its connection, taking a new connection when the
    /// current one fails or reaches its limit.
    async fn worker<B: AsRef<[u8]>>(
        &self,
        messages: &[(Envelope, B)],
        next: &AtomicUsize,
        results: &Mutex<Vec<Option<Result<TxnReport, Error>>>>,
    ) {
        let store = |start: usize, got: Vec<Result<TxnReport, Error>>| {
            let mut all = results
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (i, r) in got.into_iter().enumerate() {
                if let Some(slot) = all.get_mut(start.saturating_add(i)) {
                    *slot = Some(r);
                }
            }
        };
        let mut conn: Option<PooledClient> = None;
        loop {
            let current = match conn.as_mut() {
                Some(c) if c.is_connected() => c,
                _ => {
                    conn = None;
                    match self.get().await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            // Claim one message to carry the error, so
                            // that a server that refuses every connection
                            // ends the batch instead of looping.
                            let start = next.fetch_add(1, Ordering::AcqRel);
                            if start < messages.len() {
                                store(start, vec![Err(e)]);
                                continue;
                            }
                            return;
                        }
                    }
                }
            };
            let allowance = self
                .inner
                .config
                .max_messages
                .map_or(BATCH, |max| max.saturating_sub(current.transactions()));
            if allowance == 0 {
                conn = None;
                continue;
            }
            let size = allowance.min(BATCH);
            let start = next.fetch_add(size, Ordering::AcqRel);
            let Some(batch) = messages.get(start..start.saturating_add(size).min(messages.len()))
            else {
                return;
            };
            if batch.is_empty() {
                return;
            }
            let got = current.send_many(batch).await;
            store(start, got);
        }
    }

    /// Closes the pool: later [`get`](Self::get) calls fail, QUIT is sent
    /// on every idle connection (each reply awaited at most 5 s), and
    /// connections still checked out are closed when they come back.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.slots.close();
        let idle: Vec<Idle> = std::mem::take(&mut *self.inner.idle());
        let quits: Vec<_> = idle
            .into_iter()
            .map(|mut i| async move {
                let _ = tokio::time::timeout(QUIT_BUDGET, i.client.quit()).await;
            })
            .collect();
        join_all(quits).await;
    }
}

/// Polls every future until all are done, in the caller's task.
async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut slots: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut slots {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}
