//! Storage: one `Store` over SQLite (default) or PostgreSQL.
//!
//! Both backends go through sqlx's `Any` driver with one SQL dialect: numbered
//! placeholders (`$1`, which SQLite accepts too), `RETURNING id`, integers for
//! times (Unix milliseconds) and flags, JSON kept as text. That keeps one query per
//! operation instead of two, at the price of not using backend-specific types;
//! docs/operations.md explains the choice. Migrations are per backend.
//!
//! Every function that touches tenant data takes a `TenantId` and puts it in the
//! `WHERE` clause: no query reads or writes another tenant's rows.

mod audit;
mod callbacks;
mod calls;
mod cobrowse;
mod contact_writes;
mod contacts;
mod customers;
mod directory;
pub mod mailbox;
mod phone;
pub mod reports;
mod routing;
mod server_keys;
mod staff;
mod stats;
mod tenants;
mod webhooks;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
};

pub use audit::AuditEntry;
pub use callbacks::{
    AttemptEnd, AttemptResult, CallbackAttempt, CallbackDial, CallbackEntry, CallbackResume,
    CallbackSettings, CallbackTimes, MachinePolicy,
};
pub use calls::{CallMedia, CallRecord, CallRoute, ContactMedia, LinkCalls, TenantCalls};
pub use cobrowse::{CobrowseEvent, NewCobrowseEvent};
pub use contact_writes::{ContactWrite, TimedWrite, Written};
pub use contacts::{
    ContactFilter, ContactRecord, Message, NewContact, Outcome, PreviousContact, Sender,
    WaitingContact,
};
pub use customers::{Customer, CustomerInput, MAX_ENTITLEMENTS, MAX_TICKETS, Ticket};
pub use directory::{Claim, Member, MemberId, MemberQuery, SipCredential};
pub use phone::{CallerSession, PhoneDirection, PhoneRecord, WebSession};
pub use routing::{Link, RoutingInputs, StoredQueue};
pub use staff::{ApiKey, Role, Session, User};
pub use stats::{StatEvent, StoredStatEvent};
pub use tenants::{ContextShare, Tenant};
pub use webhooks::{
    AfterAttempt, AttemptRecord, Claimed, DeliveryLogEntry, HookFilter, NewWebhookEndpoint,
    WebhookEndpoint,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
}

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle passed to everything that stores or reads.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where the desk's contact writes and stat events go. On SQLite a pool
    /// of its own with one connection: SQLite takes one writer at a time, and
    /// writers on several connections wait for its lock in sleeps of
    /// milliseconds (its busy handler), while waiting for this one
    /// connection lets the desk's lanes batch. On PostgreSQL the main pool.
    writes: AnyPool,
    backend: Backend,
    /// Which tenants' endpoints want which events: read by the contact
    /// writes to put events in the outbox (`webhooks.rs`).
    hooks: std::sync::Arc<HookFilter>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Opens the database named by `url`, or SQLite in `data_dir` when `url` is
    /// `None`, and runs the migrations.
    ///
    /// An explicit `sqlite:` URL must name an existing file unless it says
    /// `mode=rwc`: a typo must not silently create an empty database elsewhere.
    pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = match url {
            None => {
                let path = data_dir.join("switchboard.db");
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Backend::Sqlite,
                )
            }
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.to_owned(), Backend::Postgres)
            }
            Some(u) if u.starts_with("sqlite:") => {
                let explicit_create = u.contains("mode=rwc") || u.contains(":memory:");
                let path = u
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:")
                    .split('?')
                    .next()
                    .unwrap_or_default();
                if !explicit_create && !Path::new(path).exists() {
                    return Err(StoreError::Config(format!(
                        "SQLite database {path} does not exist (add ?mode=rwc to create it)"
                    )));
                }
                (u.to_owned(), Backend::Sqlite)
            }
            Some(_) => {
                return Err(StoreError::Config(
                    "database URL must start with postgres:// or sqlite:".to_owned(),
                ));
            }
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool_options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings a connection before lending it by default: a second
            // round trip for every statement, which doubled the cost of each
            // write with a distant database (docs/benchmarks.md, "Desk"). A
            // connection that broke while idle fails its next statement
            // instead, and is dropped from the pool; writes say so in the log.
            .test_before_acquire(false)
            .max_connections(match backend {
                // One writer at a time anyway; a few readers beside it in WAL mode.
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            });
        let (pool, writes) = match backend {
            Backend::Sqlite => {
                let pool = pool_options
                    .after_connect(|conn, _meta| Box::pin(sqlite_pragmas(conn)))
                    .connect_with(options.clone())
                    .await?;
                let writes = AnyPoolOptions::new()
                    .acquire_timeout(Duration::from_secs(10))
                    .test_before_acquire(false)
                    .max_connections(1)
                    .after_connect(|conn, _meta| Box::pin(sqlite_pragmas(conn)))
                    .connect_with(options)
                    .await?;
                (pool, writes)
            }
            Backend::Postgres => {
                let pool = pool_options.connect_with(options).await?;
                (pool.clone(), pool)
            }
        };
        let store = Store {
            pool,
            writes,
            backend,
            hooks: webhooks::new_filter(),
        };
        store.migrate().await?;
        store.load_webhook_filter().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks the database answers (used by `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.writes.close().await;
        self.pool.close().await;
    }
}

/// Every SQLite connection: write-ahead log, foreign keys, a wait for the
/// write lock instead of an immediate error, and no sync at every commit.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
    )
    .await?;
    Ok(())
}

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Maps a unique-constraint violation to `Conflict`, leaving other errors alone.
fn conflict(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { what },
        _ => StoreError::Database(e),
    }
}

/// Decodes a JSON list of strings kept in a text column.
fn string_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("string list: {e}")))
}

/// JSON text of plain data, for text columns.
pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing plain data (strings, numbers, vectors) cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
