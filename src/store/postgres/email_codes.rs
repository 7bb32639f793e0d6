//! One-time email codes: [`EmailCodeStore`] on the `email_codes` table. A try either deletes
//! the row (the right proof: used once) or takes one attempt off it, each a single statement
//! on the locked row, so concurrent wrong guesses are each counted; a code with no attempts
//! left reads as missing.

use super::{column, map_err, ms, PostgresStore};
use crate::store::{EmailCodeCheck, EmailCodeRecord, EmailCodeStore, StoreError};
use async_trait::async_trait;

#[async_trait]
impl EmailCodeStore for PostgresStore {
    async fn put_email_code(
        &self,
        key: &str,
        code: &EmailCodeRecord,
        _now: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO {s}.email_codes (key, email, code_proof, link_proof, expires_at, attempts_left)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (key) DO UPDATE SET email = EXCLUDED.email,
                 code_proof = EXCLUDED.code_proof, link_proof = EXCLUDED.link_proof,
                 expires_at = EXCLUDED.expires_at, attempts_left = EXCLUDED.attempts_left",
        ))
        .bind(key)
        .bind(&code.email)
        .bind(&code.code_proof)
        .bind(&code.link_proof)
        .bind(ms(code.expires_at))
        .bind(i32::try_from(code.attempts_left).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn try_email_code(
        &self,
        key: &str,
        proof: &str,
        now: u64,
    ) -> Result<EmailCodeCheck, StoreError> {
        let used = sqlx::query(self.sql(
            "DELETE FROM {s}.email_codes
             WHERE key = $1 AND expires_at > $3 AND attempts_left > 0
                 AND (code_proof = $2 OR link_proof = $2)
             RETURNING email, code_proof, link_proof, expires_at, attempts_left",
        ))
        .bind(key)
        .bind(proof)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        if let Some(row) = used {
            let mut code = EmailCodeRecord::new(
                column::<String>(&row, 0)?,
                column::<String>(&row, 1)?,
                column::<String>(&row, 2)?,
                super::from_ms(column(&row, 3)?),
            );
            code.attempts_left = u32::try_from(column::<i32>(&row, 4)?).unwrap_or(0);
            return Ok(EmailCodeCheck::Accepted(code));
        }
        // A wrong proof: one attempt fewer. A code with none left reads as missing (the
        // statements above and here skip it) until `purge_expired` deletes it.
        let left = sqlx::query(self.sql(
            "UPDATE {s}.email_codes SET attempts_left = attempts_left - 1
             WHERE key = $1 AND expires_at > $2 AND attempts_left > 0
             RETURNING attempts_left",
        ))
        .bind(key)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(match left {
            Some(row) => EmailCodeCheck::Wrong {
                attempts_left: u32::try_from(column::<i32>(&row, 0)?).unwrap_or(0),
            },
            None => EmailCodeCheck::Missing,
        })
    }
}
