//! Rate limits and leases shared by every app instance on the database: [`Coordination`] on
//! the `rate_limits` and `leases` tables, each decision one statement on one locked row.

use super::{column, from_ms, map_err, ms, PostgresStore};
use crate::rate_limit::{RateDecision, RateLimit};
use crate::store::{Coordination, StoreError};
use async_trait::async_trait;

#[async_trait]
impl Coordination for PostgresStore {
    async fn rate_limit(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        // GCRA (see `RateLimit::apply`) in the upsert: a missing or run-out bucket starts at
        // `now`; the attempt is allowed while the arrival time is within the tolerance, and
        // only then is the new arrival time written.
        let interval = ms(limit.interval_ms());
        let tolerance = ms(limit.tolerance_ms());
        let allowed = sqlx::query(self.sql(
            "INSERT INTO {s}.rate_limits AS b (key, tat) VALUES ($1, $2 + $3)
             ON CONFLICT (key) DO UPDATE SET tat = GREATEST(b.tat, $2) + $3
                 WHERE GREATEST(b.tat, $2) - $4 <= $2",
        ))
        .bind(key)
        .bind(ms(now))
        .bind(interval)
        .bind(tolerance)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if allowed.rows_affected() == 1 {
            return Ok(RateDecision::Allowed);
        }
        let tat = sqlx::query(self.sql("SELECT tat FROM {s}.rate_limits WHERE key = $1"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let tat = match tat {
            Some(row) => from_ms(column(&row, 0)?),
            None => now,
        };
        let allow_at = tat.saturating_sub(limit.tolerance_ms());
        Ok(match allow_at.checked_sub(now) {
            Some(wait) if wait > 0 => RateDecision::Limited {
                retry_after_ms: wait,
            },
            // Purged or run out since the upsert: the next attempt goes through.
            _ => RateDecision::Limited { retry_after_ms: 1 },
        })
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(self.sql(
            "INSERT INTO {s}.leases AS l (key, holder, until) VALUES ($1, $2, $4)
             ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                 WHERE l.holder = EXCLUDED.holder OR l.until <= $3",
        ))
        .bind(key)
        .bind(holder)
        .bind(ms(now))
        .bind(ms(now.saturating_add(ttl_ms)))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(taken.rows_affected() == 1)
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query(self.sql("DELETE FROM {s}.leases WHERE key = $1 AND holder = $2"))
            .bind(key)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
