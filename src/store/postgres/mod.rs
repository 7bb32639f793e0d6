//! [`PostgresStore`]: users, sessions, ownership and coordination in the app's own
//! PostgreSQL database, and the app's own rows moved with a guest in one transaction.
//!
//! The code has one file per job: `schema` (names and the SQL they go into), `migrate` (the
//! embedded migrations), `users` (users and sessions), `ownership` (the registry), `link`
//! (the one-transaction link: the app's hook, the registry, owned tables, the guest's
//! deletion), `identities`, `email_codes`, `coordination` (rate limits and leases) and
//! `purge` (removing expired rows in bounded batches) and `revocations` (the feed that
//! tells every app instance which sessions were deleted). In short:
//!
//! - Every table lives in one schema (`tower_anonymous_auth` unless configured), so an app
//!   keeps the store beside its own tables, and tests run side by side in schemas of their own.
//! - Conditional writes (insert only if absent, upgrade only if anonymous, attach only if
//!   free) are single statements with `ON CONFLICT`, or transactions that lock the rows they
//!   decide on, so two requests of one visitor cannot both win.
//! - Expired rows read as missing; [`PostgresStore::purge_expired`] deletes them later.
//! - Connection failures, pool timeouts and a backend that was terminated are
//!   [`StoreError::Unavailable`]; the pool reconnects by itself.

mod coordination;
mod email_codes;
mod identities;
mod link;
mod migrate;
mod ownership;
mod purge;
mod revocations;
mod schema;
mod users;

pub use link::{LinkHookFuture, LinkedGuest};
pub use purge::PurgeReport;

use crate::store::{Coordination, LinkStep, Store, StoreError, TransferReport};
use link::LinkHook;
use schema::{Ident, OwnedTable};
use sqlx::PgPool;
use std::fmt;
use std::sync::Arc;

/// The schema the store's tables live in unless [`PostgresStoreBuilder::schema`] says
/// otherwise.
pub const DEFAULT_SCHEMA: &str = "tower_anonymous_auth";

/// A [`Store`] in PostgreSQL, on an sqlx pool the app shares with its own queries.
///
/// Build it with [`PostgresStore::builder`], create its tables with
/// [`migrate`](PostgresStore::migrate) (idempotent, safe to run from every instance at start),
/// and name the app's tables whose rows belong to a user with
/// [`owned_table`](PostgresStoreBuilder::owned_table): when a guest links to an account, those
/// rows move to the account in the same transaction as everything else the link does.
///
/// ```no_run
/// use tower_anonymous_auth::store::PostgresStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::PgPool::connect("postgres://localhost/shop").await?;
/// let store = PostgresStore::builder(pool)
///     .owned_table("carts", "owner_id")
///     .owned_table("orders", "user_id")
///     .build()?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: Ident,
    owned: Arc<[OwnedTable]>,
    link_hook: Option<Arc<LinkHook>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("owned_tables", &self.owned)
            .field("link_hook", &self.link_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Starts building a store on `pool`.
    ///
    /// ```
    /// # async fn run() {
    /// let pool = sqlx::postgres::PgPoolOptions::new()
    ///     .connect_lazy("postgres://localhost/app")
    ///     .unwrap();
    /// let store = tower_anonymous_auth::store::PostgresStore::builder(pool)
    ///     .schema("auth")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(store.schema(), "auth");
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
    /// ```
    pub fn builder(pool: PgPool) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            pool,
            schema: DEFAULT_SCHEMA.to_owned(),
            owned: Vec::new(),
            link_hook: None,
        }
    }

    /// Connects a pool to `url` and builds a store with the defaults (schema
    /// [`DEFAULT_SCHEMA`], no owned tables). Fails with [`StoreError::Unavailable`] when the
    /// database cannot be reached.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = tower_anonymous_auth::store::PostgresStore::connect("postgres://localhost/app").await?;
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPool::connect(url).await.map_err(|err| {
            StoreError::Unavailable(format!(
                "PostgreSQL at {} is not reachable ({err}); check that it runs there and that the URL is right",
                schema::redact_url(url)
            ))
        })?;
        Self::builder(pool)
            .build()
            .map_err(|err| StoreError::Backend(err.to_string()))
    }

    /// The pool the store runs its queries on.
    ///
    /// ```
    /// # async fn run() {
    /// # let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app").unwrap();
    /// let store = tower_anonymous_auth::store::PostgresStore::builder(pool).build().unwrap();
    /// let _same_pool: &sqlx::PgPool = store.pool();
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
    /// ```
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema the store's tables live in.
    ///
    /// ```
    /// # async fn run() {
    /// # let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app").unwrap();
    /// let store = tower_anonymous_auth::store::PostgresStore::builder(pool).build().unwrap();
    /// assert_eq!(store.schema(), tower_anonymous_auth::store::postgres::DEFAULT_SCHEMA);
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
    /// ```
    pub fn schema(&self) -> &str {
        self.schema.name()
    }

    /// `sql` with `{s}` replaced by the quoted schema: every statement names its tables in
    /// full, since the pool is the app's and its search path is not ours to set.
    fn sql(&self, sql: &str) -> sqlx::AssertSqlSafe<String> {
        sqlx::AssertSqlSafe(sql.replace("{s}", self.schema.quoted()))
    }
}

/// Builds a [`PostgresStore`]: its schema, the app's owned tables and the in-transaction link
/// hook. See [`PostgresStore::builder`].
///
/// ```
/// # async fn run() {
/// # let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app").unwrap();
/// use tower_anonymous_auth::store::PostgresStore;
///
/// let err = PostgresStore::builder(pool).owned_table("carts; drop", "owner_id").build().unwrap_err();
/// assert!(err.to_string().contains("carts; drop"));
/// # }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct PostgresStoreBuilder {
    pool: PgPool,
    schema: String,
    owned: Vec<(String, String)>,
    link_hook: Option<Arc<LinkHook>>,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStoreBuilder")
            .field("schema", &self.schema)
            .field("owned", &self.owned)
            .field("link_hook", &self.link_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl PostgresStoreBuilder {
    /// The schema for the store's tables (default [`DEFAULT_SCHEMA`]): a plain identifier,
    /// letters, digits and `_`, at most 63 bytes. [`PostgresStore::migrate`] creates it.
    ///
    /// ```
    /// # async fn run() {
    /// # let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app").unwrap();
    /// let store = tower_anonymous_auth::store::PostgresStore::builder(pool).schema("tenant_7").build().unwrap();
    /// assert_eq!(store.schema(), "tenant_7");
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
    /// ```
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Names an app table whose `column` holds the id of the user a row belongs to. When a
    /// guest links to an account, `UPDATE table SET column = account WHERE column = guest`
    /// runs in the link's transaction. `table` may be schema-qualified (`"shop.carts"`); the
    /// column must have a text type, and an index on it keeps the rewrite fast.
    ///
    /// ```
    /// # async fn run() {
    /// # let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app").unwrap();
    /// let store = tower_anonymous_auth::store::PostgresStore::builder(pool)
    ///     .owned_table("carts", "owner_id")
    ///     .owned_table("shop.orders", "user_id")
    ///     .build()
    ///     .unwrap();
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
    /// ```
    pub fn owned_table(mut self, table: impl Into<String>, column: impl Into<String>) -> Self {
        self.owned.push((table.into(), column.into()));
        self
    }

    /// Runs `hook` inside the link's transaction, on its connection, before the store moves
    /// anything: it sees the guest's rows still owned by the guest and the account's by the
    /// account, so it can merge them (two carts into one); whatever it leaves is then moved by
    /// the owned-table rewrite. An error (or a panic) rolls the whole link back, and the
    /// request fails with `LinkFailed` as with `on_link_account`.
    ///
    /// ```
    /// # async fn run() {
    /// # let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app").unwrap();
    /// use tower_anonymous_auth::store::PostgresStore;
    ///
    /// let store = PostgresStore::builder(pool)
    ///     .owned_table("cart_items", "owner_id")
    ///     .on_link_in_transaction(|conn, link| {
    ///         Box::pin(async move {
    ///             // Drop the guest's items the account already has; the rest moves.
    ///             sqlx::query(
    ///                 "DELETE FROM cart_items g USING cart_items a
    ///                  WHERE g.owner_id = $1 AND a.owner_id = $2 AND a.sku = g.sku",
    ///             )
    ///             .bind(&link.guest_id)
    ///             .bind(&link.account_id)
    ///             .execute(&mut *conn)
    ///             .await
    ///             .map_err(|err| err.to_string())?;
    ///             Ok(())
    ///         })
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
    /// ```
    pub fn on_link_in_transaction<F>(mut self, hook: F) -> Self
    where
        F: for<'c> Fn(&'c mut sqlx::PgConnection, &'c LinkedGuest) -> LinkHookFuture<'c>
            + Send
            + Sync
            + 'static,
    {
        self.link_hook = Some(Arc::new(hook));
        self
    }

    /// Checks the names and builds the store. Fails with
    /// [`ConfigError::InvalidIdentifier`](crate::ConfigError::InvalidIdentifier) naming a
    /// schema, table or column that is not a plain SQL identifier (nothing is ever quoted from
    /// user input, but a typo should fail here, not in the first link).
    ///
    /// ```
    /// # async fn run() {
    /// # let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app").unwrap();
    /// let err = tower_anonymous_auth::store::PostgresStore::builder(pool).schema("").build().unwrap_err();
    /// assert!(matches!(err, tower_anonymous_auth::ConfigError::InvalidIdentifier { .. }));
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
    /// ```
    pub fn build(self) -> Result<PostgresStore, crate::ConfigError> {
        let schema = Ident::new(&self.schema)?;
        let owned = self
            .owned
            .iter()
            .map(|(table, column)| OwnedTable::new(table, column))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PostgresStore {
            pool: self.pool,
            schema,
            owned: owned.into(),
            link_hook: self.link_hook,
        })
    }
}

/// Several app instances on one database share rate limits and leases through it.
/// A link commits in one transaction.
#[async_trait::async_trait]
impl Store for PostgresStore {
    fn coordination(&self) -> Option<&dyn Coordination> {
        Some(self)
    }

    async fn complete_link(&self, step: &LinkStep<'_>) -> Result<TransferReport, StoreError> {
        self.complete_link_in_transaction(step).await
    }
}

/// What an sqlx error means to the layer: an outage (the layer applies its
/// `store_failure_mode`), a record it cannot read, or another backend failure.
fn map_err(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) if db.code().is_some_and(|code| is_outage(&code)) => {
            StoreError::Unavailable(err.to_string())
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(err.to_string())
        }
        _ => StoreError::Backend(err.to_string()),
    }
}

/// SQLSTATEs of a lost or refused connection: class 08 (connection exception), 57P01-57P03
/// (the backend was terminated, the server is shutting down or starting), 53300 (too many
/// connections).
fn is_outage(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// Whether an sqlx error is a unique violation (SQLSTATE 23505).
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// Column `index` of `row`; a value of another type than the store wrote is a corrupt record.
fn column<'r, T>(row: &'r sqlx::postgres::PgRow, index: usize) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    sqlx::Row::try_get(row, index).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// Milliseconds as PostgreSQL's BIGINT: times past `i64::MAX` ms (year 292 million) are held
/// as `i64::MAX`, which is "never" for every comparison the store makes.
fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A BIGINT read back as milliseconds; negative values (never written by the store) read as 0.
fn from_ms(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_told_apart_from_other_errors() {
        assert!(is_outage("08006"));
        assert!(is_outage("57P01"));
        assert!(!is_outage("23505"));
        assert!(map_err(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(matches!(
            map_err(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
    }

    #[test]
    fn times_round_trip_and_saturate() {
        assert_eq!(from_ms(ms(1_700_000_000_000)), 1_700_000_000_000);
        assert_eq!(ms(u64::MAX), i64::MAX);
        assert_eq!(from_ms(-5), 0);
    }
}
