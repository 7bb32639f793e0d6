//! Sign-in identities: [`IdentityStore`] on the `identities` table, one row per
//! `(collection, provider, subject)`. An identity whose user is gone or expired is free: reads
//! skip it and an attach takes it over.

use super::users::{live, USER_COLUMNS};
use super::{column, from_ms, map_err, ms, PostgresStore};
use crate::store::{IdentityRecord, IdentityStore, StoreError};
use async_trait::async_trait;
use sqlx::postgres::PgRow;

const IDENTITY_COLUMNS: &str = "i.provider, i.subject, i.user_id, i.email, i.linked_at";

fn identity_from_row(row: &PgRow) -> Result<IdentityRecord, StoreError> {
    Ok(IdentityRecord::new(
        column::<String>(row, 0)?,
        column::<String>(row, 1)?,
        column::<String>(row, 2)?,
        from_ms(column(row, 4)?),
    )
    .with_email(column(row, 3)?))
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn attach_identity(
        &self,
        collection: &str,
        identity: &IdentityRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // The user must be live in this collection, and stays so until the attach commits.
        let user = sqlx::query(self.sql(&format!(
            "SELECT {USER_COLUMNS} FROM {{s}}.users
             WHERE id = $1 AND collection = $2 AND {} FOR SHARE",
            live("users", "$3")
        )))
        .bind(&identity.user_id)
        .bind(collection)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if user.is_none() {
            return Err(StoreError::UserNotFound(identity.user_id.clone()));
        }
        // Taken over only from the same user or from one that is no longer live; of two
        // concurrent attaches the second waits for the first's row and then sees it held.
        let attached = sqlx::query(self.sql(&format!(
            "INSERT INTO {{s}}.identities AS i (collection, provider, subject, user_id, email, linked_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (collection, provider, subject) DO UPDATE
                 SET user_id = EXCLUDED.user_id, email = EXCLUDED.email, linked_at = EXCLUDED.linked_at
                 WHERE i.user_id = EXCLUDED.user_id OR NOT EXISTS (
                     SELECT 1 FROM {{s}}.users WHERE users.id = i.user_id AND {})",
            live("users", "$7")
        )))
        .bind(collection)
        .bind(&identity.provider)
        .bind(&identity.subject)
        .bind(&identity.user_id)
        .bind(&identity.email)
        .bind(ms(identity.linked_at))
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if attached.rows_affected() == 0 {
            return Err(StoreError::IdentityTaken);
        }
        tx.commit().await.map_err(map_err)
    }

    async fn find_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        now: u64,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let row = sqlx::query(self.sql(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM {{s}}.identities i
             JOIN {{s}}.users ON users.id = i.user_id
             WHERE i.collection = $1 AND i.provider = $2 AND i.subject = $3 AND {}",
            live("users", "$4")
        )))
        .bind(collection)
        .bind(provider)
        .bind(subject)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn detach_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql(
            "DELETE FROM {s}.identities
             WHERE collection = $1 AND provider = $2 AND subject = $3 AND user_id = $4",
        ))
        .bind(collection)
        .bind(provider)
        .bind(subject)
        .bind(user_id)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn identities_of(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<IdentityRecord>, StoreError> {
        let rows = sqlx::query(self.sql(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM {{s}}.identities i
             JOIN {{s}}.users ON users.id = i.user_id
             WHERE i.user_id = $1 AND {}
             ORDER BY i.collection, i.provider, i.subject",
            live("users", "$2")
        )))
        .bind(user_id)
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(identity_from_row).collect()
    }
}
