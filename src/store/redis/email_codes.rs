//! One-time email codes: a hash per code, with a TTL, tried by one script so that comparing
//! and counting are atomic.

use super::conn::map_err;
use super::scripts::TRY_EMAIL_CODE;
use super::RedisStore;
use crate::store::{EmailCodeCheck, EmailCodeRecord, EmailCodeStore, StoreError};
use async_trait::async_trait;

#[async_trait]
impl EmailCodeStore for RedisStore {
    async fn put_email_code(
        &self,
        key: &str,
        code: &EmailCodeRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        let key = self.keys.email_code(key);
        let ttl_ms = code.expires_at.saturating_sub(now).max(1);
        // DEL first: a replaced code must not keep a field of the previous one.
        let () = redis::pipe()
            .atomic()
            .del(&key)
            .ignore()
            .hset_multiple(
                &key,
                &[
                    ("c", code.code_proof.as_str()),
                    ("l", code.link_proof.as_str()),
                    ("e", code.email.as_str()),
                    ("x", &code.expires_at.to_string()),
                    ("a", &code.attempts_left.to_string()),
                ],
            )
            .ignore()
            .pexpire(&key, i64::try_from(ttl_ms).unwrap_or(i64::MAX))
            .ignore()
            .query_async(&mut self.conn())
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
        let key = self.keys.email_code(key);
        let reply: Vec<String> = TRY_EMAIL_CODE
            .key(&key)
            .arg(proof)
            .arg(now)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let corrupt = || StoreError::Corrupt(format!("{key}: unexpected reply {reply:?}"));
        match reply.as_slice() {
            [missing] if missing == "missing" => Ok(EmailCodeCheck::Missing),
            [wrong, left] if wrong == "wrong" => Ok(EmailCodeCheck::Wrong {
                attempts_left: left.parse().map_err(|_| corrupt())?,
            }),
            [ok, code_proof, link_proof, email, expires_at, attempts_left] if ok == "ok" => {
                let mut used = EmailCodeRecord::new(
                    email.as_str(),
                    code_proof.as_str(),
                    link_proof.as_str(),
                    expires_at.parse().map_err(|_| corrupt())?,
                );
                used.attempts_left = attempts_left.parse().map_err(|_| corrupt())?;
                Ok(EmailCodeCheck::Accepted(used))
            }
            _ => Err(corrupt()),
        }
    }
}
