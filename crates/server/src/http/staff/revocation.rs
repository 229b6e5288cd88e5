//! Ending staff access while it is in use: logout, a disabled user and an
//! expired session close that principal's WebSockets (and live event streams)
//! at once, and a background task purges expired sessions from the database.
//!
//! `Revocations` is a broadcast of what ended; each console connection holds a
//! [`SessionWatch`] that picks out its own session. A connection that falls
//! behind the broadcast, and every connection once a minute, asks the database
//! instead, so a session ended by another process (the CLI's `user disable`, a
//! second node) is noticed too.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use tokio::sync::{broadcast, watch};

use crate::{
    ids::{TenantId, UserId},
    store::{Store, now_ms},
};

/// How often expired sessions are deleted.
pub const PURGE_EVERY: Duration = Duration::from_mins(5);
/// How often a connection asks the database whether its session is live.
pub const RECHECK_EVERY: Duration = Duration::from_mins(1);
/// Sessions deleted per statement by the purge.
const PURGE_BATCH: i64 = 1000;

/// What ended.
#[derive(Debug, Clone)]
pub enum Revoked {
    /// One session (logout, expiry).
    Session {
        token_hash: String,
        why: &'static str,
    },
    /// Every session of a user (disabled).
    User {
        tenant: TenantId,
        user: UserId,
        why: &'static str,
    },
}

/// The handle in the app state: fire and subscribe. Dropping the last clone
/// stops the purge task.
#[derive(Clone)]
pub struct Revocations {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<Revoked>,
    /// Dropped with the last handle; the purge task then stops.
    _stop: watch::Sender<()>,
}

impl Revocations {
    /// The registry and its purge task (every [`PURGE_EVERY`]).
    pub fn start(store: Store) -> Self {
        let (tx, _) = broadcast::channel(256);
        let (stop, stopped) = watch::channel(());
        let inner = Arc::new(Inner { tx, _stop: stop });
        tokio::spawn(purge(store, Arc::downgrade(&inner), stopped));
        Self { inner }
    }

    pub fn revoke(&self, revoked: Revoked) {
        // No receivers means no connection to close.
        let _ = self.inner.tx.send(revoked);
    }

    /// Watches one session until it ends.
    pub fn watch(
        &self,
        store: Store,
        token_hash: String,
        tenant: TenantId,
        user: UserId,
        expires_at_ms: i64,
    ) -> SessionWatch {
        let left = u64::try_from(expires_at_ms.saturating_sub(now_ms())).unwrap_or(0);
        let now = tokio::time::Instant::now();
        SessionWatch {
            rx: self.inner.tx.subscribe(),
            store,
            token_hash,
            tenant,
            user,
            expires: now + Duration::from_millis(left),
            next_check: now + RECHECK_EVERY,
        }
    }
}

async fn purge(store: Store, registry: Weak<Inner>, mut stopped: watch::Receiver<()>) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // Err: the last handle is gone.
            _ = stopped.changed() => return,
        }
        loop {
            let hashes = match store.purge_expired_sessions(now_ms(), PURGE_BATCH).await {
                Ok(hashes) => hashes,
                Err(e) => {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                    break;
                }
            };
            let Some(inner) = registry.upgrade() else {
                return;
            };
            let count = hashes.len();
            if count > 0 {
                metrics::counter!("switchboard_sessions_purged_total").increment(count as u64);
                tracing::debug!(count, "expired sessions purged");
            }
            for token_hash in hashes {
                let _ = inner.tx.send(Revoked::Session {
                    token_hash,
                    why: "session expired",
                });
            }
            if i64::try_from(count).unwrap_or(i64::MAX) < PURGE_BATCH {
                break;
            }
        }
    }
}

/// One connection's view of its session.
pub struct SessionWatch {
    rx: broadcast::Receiver<Revoked>,
    store: Store,
    token_hash: String,
    tenant: TenantId,
    user: UserId,
    expires: tokio::time::Instant,
    next_check: tokio::time::Instant,
}

impl SessionWatch {
    fn concerns(&self, revoked: &Revoked) -> Option<&'static str> {
        match revoked {
            Revoked::Session { token_hash, why } if *token_hash == self.token_hash => Some(why),
            Revoked::User { tenant, user, why } if *tenant == self.tenant && *user == self.user => {
                Some(why)
            }
            _ => None,
        }
    }

    /// Resolves with why the session ended. Cancel-safe: call it in a
    /// `select!` loop.
    pub async fn ended(&mut self) -> &'static str {
        loop {
            tokio::select! {
                revoked = self.rx.recv() => match revoked {
                    Ok(revoked) => {
                        if let Some(why) = self.concerns(&revoked) {
                            return why;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(why) = self.recheck().await {
                            return why;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        // The registry is gone only at shutdown.
                        std::future::pending::<()>().await;
                    }
                },
                () = tokio::time::sleep_until(self.expires) => return "session expired",
                () = tokio::time::sleep_until(self.next_check) => {
                    if let Some(why) = self.recheck().await {
                        return why;
                    }
                }
            }
        }
    }

    async fn recheck(&mut self) -> Option<&'static str> {
        self.next_check = tokio::time::Instant::now() + RECHECK_EVERY;
        match self.store.session(&self.token_hash).await {
            Ok(Some(_)) => None,
            Ok(None) => Some("session ended"),
            Err(e) => {
                // The database is away: keep the connection, ask again later.
                tracing::warn!(error = %e, "checking a console's session failed");
                None
            }
        }
    }
}
