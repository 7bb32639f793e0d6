//! Users, the email index and sessions.
//!
//! Each record lives in its own slot, so operations that touch several records are short
//! sequences of single-slot steps, ordered so that a crash between two steps leaves only
//! harmless leftovers:
//!
//! - `insert_user` writes the user hash (with its first session's index field) and the session
//!   hash first, and reserves the email last. A concurrent insert of the same email therefore
//!   always finds a live holder. When the email is taken the two writes are rolled back.
//! - The email index is a hint checked against the user it names: a holder that is missing or
//!   expired at the caller's `now` is stale and may be taken over with a compare-and-set
//!   ([`EMAIL_CLAIM`]); `find_user_by_email` also checks the user's own email.
//! - Placeholder emails need no index entry: an email of the form `temp-{id}@{domain}` names
//!   its holder, so `find_user_by_email` reads user `id` and checks that its email (and
//!   collection) still match. Most guests have such an email, and this saves them a key. Such
//!   an email is still unique: reserving it for anyone else first checks that user `id` does
//!   not hold it.
//! - `delete_user` removes sessions, then the email entry (only if it still names the user),
//!   and the user hash last, so a retry after a crash finds what is left to do.
//!
//! Expiry: the records keep `expires_at` in the caller's clock. The keys get a Redis TTL of
//! `expires_at - now` plus the store's grace period (`PEXPIRE`, i.e. `PEXPIREAT` of the same
//! instant translated to the server's clock), so a clock difference between the application
//! and Redis does not matter; [`Store::refresh`](crate::Store::refresh) moves the Redis expiry
//! (`PEXPIRETIME` / `PEXPIREAT`) by exactly as much as it moves `expires_at`.

use super::codec::{decode_session, decode_user, encode_session, encode_user};
use super::codec::{full_email, SESSION_FIELDS, USER_FIELDS};
use super::conn::map_err;
use super::keys::{session_field, session_of_field};
use super::scripts::{
    DELETE_IF, EMAIL_CLAIM, EMAIL_EXTEND, REPLACE_FIELDS, SESSION_INDEX, SESSION_REFRESH, UPGRADE,
    USER_REFRESH,
};
use super::RedisStore;
use crate::store::{SessionRecord, StoreError, UserRecord};
use futures::future::try_join_all;
use redis::AsyncCommands;
use std::collections::HashMap;

/// How often a contended email reservation is retried before giving up.
const EMAIL_ATTEMPTS: usize = 8;

/// The user id a placeholder email (`temp-{id}@{domain}`) names.
fn placeholder_owner(email: &str) -> Option<&str> {
    let (local, _domain) = email.rsplit_once('@')?;
    local.strip_prefix("temp-").filter(|id| !id.is_empty())
}

impl RedisStore {
    /// Redis TTL in ms for a record expiring at `expires_at` (caller clock) seen at `now`;
    /// `0` means no expiry.
    fn ttl_ms(&self, expires_at: Option<u64>, now: u64) -> u64 {
        match expires_at {
            None => 0,
            Some(at) => at.saturating_sub(now).saturating_add(self.grace_ms).max(1),
        }
    }

    async fn write_user(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut pairs: Vec<(String, String)> = encode_user(record)
            .into_iter()
            .map(|(field, value)| (field.to_owned(), value))
            .collect();
        if let Some(session) = session {
            pairs.push((session_field(&session.id), session.expires_at.to_string()));
        }
        REPLACE_FIELDS
            .key(self.keys.user(&record.user.id))
            .arg(self.ttl_ms(record.expires_at, now))
            .arg(USER_FIELDS.len())
            .arg(&USER_FIELDS[..])
            .arg(&pairs)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn write_session(&self, session: &SessionRecord, now: u64) -> Result<(), StoreError> {
        REPLACE_FIELDS
            .key(self.keys.session(&session.id))
            .arg(self.ttl_ms(Some(session.expires_at), now))
            .arg(SESSION_FIELDS.len())
            .arg(&SESSION_FIELDS[..])
            .arg(encode_session(session))
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Points the email index at `user_id`, taking it over from a dead holder (which is then
    /// removed). Fails with [`StoreError::EmailTaken`] when a live user holds it.
    async fn reserve_email(
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
            // The email names this user: no index entry unless a live user took the string.
            let holder: Option<String> = conn.get(&key).await.map_err(map_err)?;
            return match holder {
                Some(holder) if holder != user_id => {
                    if self.live_user(&holder, now).await?.is_some() {
                        return Err(StoreError::EmailTaken);
                    }
                    self.release_email(collection, email, &holder).await?;
                    self.remove_user(&holder).await
                }
                _ => Ok(()),
            };
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

    pub(super) async fn live_user(
        &self,
        id: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let key = self.keys.user(id);
        let values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&key)
            .arg(&USER_FIELDS[..])
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(decode_user(&key, id, values)?.filter(|record| !record.is_expired(now)))
    }

    pub(super) async fn insert_user_impl(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        let user = &record.user;
        self.write_user(record, session, now).await?;
        if let Some(session) = session {
            self.write_session(session, now).await?;
        }
        let ttl = self.ttl_ms(record.expires_at, now);
        match self
            .reserve_email(&user.collection, &user.email, &user.id, ttl, now)
            .await
        {
            Err(StoreError::EmailTaken) => {
                let mut keys = vec![self.keys.user(&user.id)];
                keys.extend(session.map(|s| self.keys.session(&s.id)));
                self.delete_keys(keys).await?;
                Err(StoreError::EmailTaken)
            }
            other => other,
        }
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

    pub(super) async fn upgrade_user_impl(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        let Some(current) = self.live_user(id, now).await? else {
            return Err(StoreError::UserNotFound(id.to_owned()));
        };
        let collection = current.user.collection.clone();
        self.reserve_email(&collection, email, id, 0, now).await?;
        let upgraded: i64 = UPGRADE
            .key(self.keys.user(id))
            .arg(email)
            .arg(name)
            .arg(if password_hash.is_some() { "1" } else { "0" })
            .arg(password_hash.unwrap_or_default())
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let mut conn = self.conn();
        if upgraded == 0 {
            self.release_email(&collection, email, id).await?;
            return Err(StoreError::UserNotFound(id.to_owned()));
        }
        if current.user.email != email {
            self.release_email(&collection, &current.user.email, id)
                .await?;
        }
        let _: bool = conn
            .persist(self.keys.email(&collection, email))
            .await
            .map_err(map_err)?;
        let mut record = current;
        record.user.email = email.to_owned();
        record.user.name = name.to_owned();
        record.user.is_anonymous = false;
        record.password_hash = password_hash.map(str::to_owned);
        record.expires_at = None;
        Ok(record)
    }

    async fn release_email(
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

    /// Deletes keys one command each (they may live on different cluster nodes); returns how
    /// many existed.
    async fn delete_keys(&self, keys: Vec<String>) -> Result<usize, StoreError> {
        let deleted = try_join_all(keys.into_iter().map(|key| {
            let mut conn = self.conn();
            async move { conn.del::<_, usize>(key).await }
        }))
        .await
        .map_err(map_err)?;
        Ok(deleted.into_iter().sum())
    }

    pub(super) async fn remove_user(&self, id: &str) -> Result<(), StoreError> {
        let key = self.keys.user(id);
        let all: HashMap<String, String> = self.conn().hgetall(&key).await.map_err(map_err)?;
        if all.is_empty() {
            return Ok(());
        }
        let sessions = all
            .keys()
            .filter_map(|field| session_of_field(field))
            .map(|sid| self.keys.session(sid))
            .collect();
        self.delete_keys(sessions).await?;
        if let (Some(collection), Some(email)) = (all.get("c"), all.get("e")) {
            self.release_email(collection, &full_email(id, email.clone()), id)
                .await?;
        }
        self.delete_keys(vec![key]).await?;
        Ok(())
    }

    pub(super) async fn insert_session_impl(
        &self,
        session: &SessionRecord,
    ) -> Result<(), StoreError> {
        // A session carries no `now`; its creation time is the caller's clock reading.
        let now = session.created_at;
        SESSION_INDEX
            .key(self.keys.user(&session.user_id))
            .arg(session_field(&session.id))
            .arg(session.expires_at)
            .arg(self.ttl_ms(Some(session.expires_at), now))
            .arg(now.saturating_sub(self.grace_ms))
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map_err(map_err)?;
        self.write_session(session, now).await
    }

    pub(super) async fn live_session(
        &self,
        id: &str,
        now: u64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let key = self.keys.session(id);
        let values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&key)
            .arg(&SESSION_FIELDS[..])
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(decode_session(&key, id, values)?.filter(|s| !s.is_expired(now)))
    }

    pub(super) async fn refresh_impl(
        &self,
        session_id: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let user_id: Option<String> = SESSION_REFRESH
            .key(self.keys.session(session_id))
            .arg(expires_at)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        let Some(user_id) = user_id else {
            return Ok(());
        };
        let moved: Option<(String, String, i64)> = USER_REFRESH
            .key(self.keys.user(&user_id))
            .arg(expires_at)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        let moved = moved.map(|(c, email, shift)| (c, full_email(&user_id, email), shift));
        let indexed = |email: &str| placeholder_owner(email) != Some(user_id.as_str());
        if let Some((collection, email, shift)) = moved.filter(|(_, email, _)| indexed(email)) {
            EMAIL_EXTEND
                .key(self.keys.email(&collection, &email))
                .arg(&user_id)
                .arg(shift)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    pub(super) async fn delete_session_impl(&self, id: &str) -> Result<(), StoreError> {
        let key = self.keys.session(id);
        let mut conn = self.conn();
        let user_id: Option<String> = conn.hget(&key, "u").await.map_err(map_err)?;
        self.delete_keys(vec![key]).await?;
        if let Some(user_id) = user_id {
            let _: usize = conn
                .hdel(self.keys.user(&user_id), session_field(id))
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    pub(super) async fn delete_user_sessions_impl(
        &self,
        user_id: &str,
    ) -> Result<usize, StoreError> {
        let key = self.keys.user(user_id);
        let mut conn = self.conn();
        let fields: Vec<String> = conn.hkeys(&key).await.map_err(map_err)?;
        let fields: Vec<String> = fields
            .into_iter()
            .filter(|field| session_of_field(field).is_some())
            .collect();
        if fields.is_empty() {
            return Ok(0);
        }
        let sessions = fields
            .iter()
            .filter_map(|field| session_of_field(field))
            .map(|sid| self.keys.session(sid))
            .collect();
        let removed = self.delete_keys(sessions).await?;
        let _: usize = conn.hdel(&key, &fields).await.map_err(map_err)?;
        Ok(removed)
    }
}
