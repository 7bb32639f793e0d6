//! The ownership registry: [`OwnershipStore`] on the `owners` table, one row per resource.

use super::{column, map_err, PostgresStore};
use crate::store::{ClaimOutcome, OwnershipStore, StoreError, TransferReport};
use async_trait::async_trait;
use sqlx::PgConnection;

/// How often a claim retries when the owner it lost to released the resource before it could
/// read who that was.
const CLAIM_ATTEMPTS: usize = 8;

impl PostgresStore {
    /// Moves every resource of `from` to `to` (one statement, on `conn`).
    pub(super) async fn transfer_in(
        &self,
        conn: &mut PgConnection,
        from: &str,
        to: &str,
    ) -> Result<TransferReport, StoreError> {
        if from == to {
            return Ok(TransferReport::default());
        }
        let done = sqlx::query(self.sql("UPDATE {s}.owners SET owner = $2 WHERE owner = $1"))
            .bind(from)
            .bind(to)
            .execute(conn)
            .await
            .map_err(map_err)?;
        Ok(TransferReport {
            moved: usize::try_from(done.rows_affected()).unwrap_or(usize::MAX),
        })
    }
}

#[async_trait]
impl OwnershipStore for PostgresStore {
    async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError> {
        for _ in 0..CLAIM_ATTEMPTS {
            let claimed = sqlx::query(self.sql(
                "INSERT INTO {s}.owners (resource, owner) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            ))
            .bind(resource)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            if claimed.rows_affected() == 1 {
                return Ok(ClaimOutcome::Claimed);
            }
            if let Some(current) = self.owner_of(resource).await? {
                return Ok(if current == owner {
                    ClaimOutcome::AlreadyOwned
                } else {
                    ClaimOutcome::OwnedByOther(current)
                });
            }
        }
        Err(StoreError::Backend(format!(
            "claim of {resource:?} kept racing with releases; try again"
        )))
    }

    async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query(self.sql("DELETE FROM {s}.owners WHERE resource = $1 AND owner = $2"))
                .bind(resource)
                .bind(owner)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(self.sql("SELECT owner FROM {s}.owners WHERE resource = $1"))
            .bind(resource)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|row| column(&row, 0)).transpose()
    }

    async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            self.sql("SELECT resource FROM {s}.owners WHERE owner = $1 ORDER BY resource"),
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(|row| column(row, 0)).collect()
    }

    async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        self.transfer_in(&mut conn, from, to).await
    }
}
