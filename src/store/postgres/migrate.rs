//! The embedded migrations: numbered SQL files compiled into the crate, applied in order,
//! each once, in its own transaction, under an advisory lock so that app instances starting
//! together do not apply one twice.

use super::{map_err, PostgresStore};
use crate::store::StoreError;

/// The migrations, in order. A released migration is never edited: a change is a new file.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_tables.sql")),
    (2, include_str!("migrations/0002_revocation_feed.sql")),
];

impl PostgresStore {
    /// Creates the schema and the store's tables, or brings them up to date: applies each
    /// embedded migration that has not been applied yet, in order, each in a transaction.
    /// Idempotent and safe to call from every instance at start (they take turns on an
    /// advisory lock). Returns how many migrations it applied.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = tower_anonymous_auth::store::PostgresStore::connect("postgres://localhost/app").await?;
    /// store.migrate().await?;
    /// assert_eq!(store.migrate().await?, 0, "nothing left to apply");
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        // The lock key is derived from the schema, so stores in different schemas migrate
        // side by side.
        sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
            .bind(self.lock_key())
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        let applied = self.apply_pending(&mut conn).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
            .bind(self.lock_key())
            .execute(&mut *conn)
            .await;
        let applied = applied?;
        unlocked.map_err(map_err)?;
        Ok(applied)
    }

    fn lock_key(&self) -> String {
        format!("tower-anonymous-auth migrate {}", self.schema.name())
    }

    async fn apply_pending(&self, conn: &mut sqlx::PgConnection) -> Result<usize, StoreError> {
        sqlx::raw_sql(self.sql(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.migrations (
                 version INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        ))
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
        let done: Vec<i32> = sqlx::query_scalar(self.sql("SELECT version FROM {s}.migrations"))
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err)?;
        let mut applied = 0;
        for (version, sql) in MIGRATIONS {
            if done.contains(version) {
                continue;
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(map_err)?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(
                sql.replace("{schema}", self.schema.quoted()),
            ))
            .execute(&mut *tx)
            .await
            .map_err(|err| StoreError::Backend(format!("migration {version} failed: {err}")))?;
            sqlx::query(self.sql("INSERT INTO {s}.migrations (version) VALUES ($1)"))
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            applied += 1;
        }
        Ok(applied)
    }
}
