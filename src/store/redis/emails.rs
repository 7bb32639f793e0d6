//! The email index: one key per (collection, email) naming the user that holds it.
//!
//! - The index is a hint checked against the user it names: a holder that is missing or
//!   expired at the caller's `now` is stale and may be taken over with a compare-and-set
//!   ([`EMAIL_CLAIM`]); `find_user_by_email` also checks the user's own email.
//! - Placeholder emails need no index entry: an email of the form `temp-{id}@{domain}` names
//!   its holder, so `find_user_by_email` reads user `id` and checks that its email (and
//!   collection) still match. Most guests have such an email, and this saves them a key. Such
//!   an email is still unique: reserving it for anyone else first checks that user `id` does
//!   not hold it.

use super::conn::map_err;
use super::scripts::{DELETE_IF, EMAIL_CLAIM};
use super::RedisStore;
use crate::store::{StoreError, UserRecord};
use crate::util::email::placeholder_owner;
use redis::AsyncCommands;

/// How often a contended email reservation is retried before giving up.
const EMAIL_ATTEMPTS: usize = 8;

impl RedisStore {
    /// Reserving a user's own placeholder email writes nothing; it only fails when a live user
    /// took that string as a real email (and removes a dead one that did).
    async fn check_own_placeholder(
        &self,
        collection: &str,
        email: &str,
        user_id: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        let key = self.keys.email(collection, email);
        let holder: Option<String> = self.conn().get(&key).await.map_err(map_err)?;
        match holder {
            Some(holder) if holder != user_id => {
                if self.live_user(&holder, now).await?.is_some() {
                    return Err(StoreError::EmailTaken);
                }
                self.release_email(collection, email, &holder).await?;
                // Expired: its tokens have expired too, so there is nothing to announce.
                self.remove_user(&holder).await.map(drop)
            }
            _ => Ok(()),
        }
    }

    /// Points the email index at `user_id`, taking it over from a dead holder (which is then
    /// removed). Fails with [`StoreError::EmailTaken`] when a live user holds it.
    pub(super) async fn reserve_email(
        &self,
        collection: &str,
        email: &str,
        user_id: &str,
        ttl_ms: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        let key = self.keys.email(collection, email);
        let mut conn = self.conn();
        let named = placeholder_owner(email);
        if named == Some(user_id) {
            return self
                .check_own_placeholder(collection, email, user_id, now)
                .await;
        }
        if let Some(named) = named {
            let holds = self.live_user(named, now).await?.is_some_and(|record| {
                record.user.collection == collection && record.user.email == email
            });
            if holds {
                return Err(StoreError::EmailTaken);
            }
        }
        for _ in 0..EMAIL_ATTEMPTS {
            let holder: Option<String> = conn.get(&key).await.map_err(map_err)?;
            let stale = match holder {
                Some(holder) if holder != user_id => {
                    if self.live_user(&holder, now).await?.is_some() {
                        return Err(StoreError::EmailTaken);
                    }
                    holder
                }
                _ => String::new(),
            };
            let conflict: Option<String> = EMAIL_CLAIM
                .key(&key)
                .arg(user_id)
                .arg(&stale)
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?;
            if conflict.is_none() {
                if !stale.is_empty() {
                    self.remove_user(&stale).await?;
                }
                return Ok(());
            }
        }
        Err(StoreError::Backend(format!(
            "email index {key} kept changing"
        )))
    }

    pub(super) async fn find_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let holder: Option<String> = self
            .conn()
            .get(self.keys.email(collection, email))
            .await
            .map_err(map_err)?;
        let Some(holder) = holder.or_else(|| placeholder_owner(email).map(str::to_owned)) else {
            return Ok(None);
        };
        Ok(self
            .live_user(&holder, now)
            .await?
            .filter(|r| r.user.collection == collection && r.user.email == email))
    }

    pub(super) async fn release_email(
        &self,
        collection: &str,
        email: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        DELETE_IF
            .key(self.keys.email(collection, email))
            .arg(id)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
