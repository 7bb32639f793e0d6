//! Removing expired rows: reads already ignore them, so this only reclaims space. Each
//! statement deletes at most one batch, skipping rows another transaction holds, so a purge
//! never keeps a long lock and never waits behind a request.

use super::{map_err, ms, PostgresStore};
use crate::store::StoreError;
use crate::util::clock::now_millis;
use std::time::Duration;

/// What [`PostgresStore::purge_expired`] deleted.
///
/// ```
/// let report = tower_anonymous_auth::store::postgres::PurgeReport::default();
/// assert_eq!(report.total(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Expired guests, with their sessions, identities and ownership entries.
    pub users: u64,
    /// Expired sessions.
    pub sessions: u64,
    /// Email codes past their expiry or out of attempts.
    pub email_codes: u64,
    /// Rate-limit buckets that are full again, and leases that ran out.
    pub coordination: u64,
}

impl PurgeReport {
    /// Rows deleted in all.
    ///
    /// ```
    /// let report = tower_anonymous_auth::store::postgres::PurgeReport::default();
    /// assert_eq!(report.total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.users + self.sessions + self.email_codes + self.coordination
    }
}

/// Rows per statement unless the caller says otherwise.
pub(super) const DEFAULT_BATCH: u32 = 1_000;

/// One batch of expired guests: each goes with its sessions, identities and ownership
/// entries (the app's own rows of that guest are the app's to clean).
const USERS: &str = "WITH gone AS (
        DELETE FROM {s}.users WHERE id IN (
            SELECT id FROM {s}.users WHERE expires_at <= $1
            LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING id
    ), gone_sessions AS (
        DELETE FROM {s}.sessions WHERE user_id IN (SELECT id FROM gone)
    ), gone_identities AS (
        DELETE FROM {s}.identities WHERE user_id IN (SELECT id FROM gone)
    ), gone_owners AS (
        DELETE FROM {s}.owners WHERE owner IN (SELECT id FROM gone)
    )
    SELECT count(*) FROM gone";

const SESSIONS: &str = "WITH gone AS (
        DELETE FROM {s}.sessions WHERE id IN (
            SELECT id FROM {s}.sessions WHERE expires_at <= $1
            LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING 1
    ) SELECT count(*) FROM gone";

const EMAIL_CODES: &str = "WITH gone AS (
        DELETE FROM {s}.email_codes WHERE key IN (
            SELECT key FROM {s}.email_codes WHERE expires_at <= $1 OR attempts_left <= 0
            LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING 1
    ) SELECT count(*) FROM gone";

const RATE_LIMITS: &str = "WITH gone AS (
        DELETE FROM {s}.rate_limits WHERE key IN (
            SELECT key FROM {s}.rate_limits WHERE tat <= $1
            LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING 1
    ) SELECT count(*) FROM gone";

const LEASES: &str = "WITH gone AS (
        DELETE FROM {s}.leases WHERE key IN (
            SELECT key FROM {s}.leases WHERE until <= $1
            LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING 1
    ) SELECT count(*) FROM gone";

impl PostgresStore {
    /// Deletes what expired at `now` (ms since the epoch), `batch` rows per statement (at
    /// least 1), until nothing expired is left. Safe to run on several instances at once.
    ///
    /// ```no_run
    /// # async fn run(store: tower_anonymous_auth::store::PostgresStore) -> Result<(), tower_anonymous_auth::StoreError> {
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    /// let report = store.purge_expired(now.as_millis() as u64, 1_000).await?;
    /// println!("purged {} rows", report.total());
    /// # Ok(()) }
    /// ```
    pub async fn purge_expired(&self, now: u64, batch: u32) -> Result<PurgeReport, StoreError> {
        let batch = batch.max(1);
        let rate_limits = self.purge_table(RATE_LIMITS, now, batch).await?;
        Ok(PurgeReport {
            users: self.purge_table(USERS, now, batch).await?,
            sessions: self.purge_table(SESSIONS, now, batch).await?,
            email_codes: self.purge_table(EMAIL_CODES, now, batch).await?,
            coordination: rate_limits + self.purge_table(LEASES, now, batch).await?,
        })
    }

    async fn purge_table(&self, sql: &str, now: u64, batch: u32) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let deleted: i64 = sqlx::query_scalar(self.sql(sql))
                .bind(ms(now))
                .bind(i64::from(batch))
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
            let deleted = u64::try_from(deleted).unwrap_or(0);
            total += deleted;
            if deleted < u64::from(batch) {
                return Ok(total);
            }
        }
    }

    /// Runs [`purge_expired`](Self::purge_expired) every `every` in a task on the current
    /// tokio runtime, until the returned handle is aborted (or the runtime stops). A failed
    /// purge is logged and tried again next time.
    ///
    /// ```no_run
    /// # async fn run(store: tower_anonymous_auth::store::PostgresStore) {
    /// let purge = store.spawn_purge(std::time::Duration::from_secs(300));
    /// // ... serve ...
    /// purge.abort();
    /// # }
    /// ```
    pub fn spawn_purge(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        let every = every.max(Duration::from_millis(10));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.purge_expired(now_millis(), DEFAULT_BATCH).await {
                    Ok(report) => tracing::debug!(?report, "purged expired rows"),
                    Err(err) => {
                        tracing::warn!(error = %err, "purging expired rows failed; trying again later")
                    }
                }
            }
        })
    }
}
