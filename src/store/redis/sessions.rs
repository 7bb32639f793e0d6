//! Sessions: embedded in their user's hash when their id names the user (the layer's own
//! sessions, `{user_id}.{random}`: a guest is then one key), else one hash per session indexed
//! by a field of its user's hash (see [`keys`](super::keys)); and the sliding expiry of
//! [`UserStore::refresh`](crate::store::UserStore::refresh).
//!
//! `refresh` moves an embedded session's expiry and (for an anonymous user) the user's expiry
//! and key TTL in one script; a session with its own hash first moves its `x` field and key
//! expiry, then the user's. Then the user's indexed email key follows, each by exactly as much
//! as its own `expires_at` moved. The session index field holds the session's expiry, so adding
//! a session prunes the fields of sessions long expired. The index field is written before the
//! session hash, so every session that exists is indexed and `delete_user_sessions`
//! (revocation on a privilege change) cannot miss one.
//!
//! A session id with a dot that does not name its own user (`a.b` of user `c`) is looked for in
//! the hash of user `a` first; not found there, its own hash is read: one more round trip, only
//! for such ids and for sessions that do not exist.

use super::codec::{decode_embedded_session, decode_session, encode_session, SESSION_FIELDS};
use super::conn::map_err;
use super::keys::{is_embedded, named_user, session_field, session_of_field};
use super::scripts::{EMAIL_EXTEND, REPLACE_FIELDS, SESSION_INDEX, SESSION_REFRESH, USER_REFRESH};
use super::users::session_field_value;
use super::RedisStore;
use crate::store::{SessionRecord, StoreError};
use crate::util::email::full_email;
use crate::util::email::placeholder_owner;
use redis::AsyncCommands;

impl RedisStore {
    pub(super) async fn write_session(
        &self,
        session: &SessionRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        REPLACE_FIELDS
            .key(self.keys.session(&session.id))
            .arg(self.ttl_ms(Some(session.expires_at), now))
            .arg(SESSION_FIELDS.len())
            .arg(&SESSION_FIELDS[..])
            .arg(&encode_session(session))
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map_err(map_err)?;
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
            .arg(session_field_value(session))
            .arg(self.ttl_ms(Some(session.expires_at), now))
            .arg(now.saturating_sub(self.grace_ms))
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map_err(map_err)?;
        if is_embedded(session) {
            return Ok(());
        }
        self.write_session(session, now).await
    }

    pub(super) async fn live_session(
        &self,
        id: &str,
        now: u64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        if let Some(user_id) = named_user(id) {
            let key = self.keys.user(user_id);
            let value: Option<String> = self
                .conn()
                .hget(&key, session_field(id))
                .await
                .map_err(map_err)?;
            if let Some(value) = value {
                if let Some(session) = decode_embedded_session(&key, id, user_id, &value)? {
                    return Ok(Some(session).filter(|s| !s.is_expired(now)));
                }
            }
        }
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
        if let Some(user_id) = named_user(session_id) {
            let field = session_field(session_id);
            if let Some(moved) = self.refresh_user(user_id, expires_at, &field).await? {
                return self.extend_email(user_id, moved).await;
            }
        }
        let user_id: Option<String> = SESSION_REFRESH
            .key(self.keys.session(session_id))
            .arg(expires_at)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let Some(user_id) = user_id else {
            return Ok(());
        };
        match self.refresh_user(&user_id, expires_at, "").await? {
            Some(moved) => self.extend_email(&user_id, moved).await,
            None => Ok(()),
        }
    }

    /// Runs [`USER_REFRESH`] on `user_id`'s hash (with the embedded session `field`, or `""`).
    /// `None` when that embedded session is not there; else the user's `[collection, email,
    /// shift]` when its expiry moved, or nothing.
    async fn refresh_user(
        &self,
        user_id: &str,
        expires_at: u64,
        field: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        USER_REFRESH
            .key(self.keys.user(user_id))
            .arg(expires_at)
            .arg(field)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)
    }

    /// Moves the expiry of `user_id`'s email index key by the shift [`USER_REFRESH`] reported
    /// (`moved` is empty when the user did not move; a placeholder email has no index key).
    async fn extend_email(&self, user_id: &str, moved: Vec<String>) -> Result<(), StoreError> {
        let Ok([collection, email, shift]) = <[String; 3]>::try_from(moved) else {
            return Ok(());
        };
        let email = full_email(user_id, email);
        if placeholder_owner(&email) == Some(user_id) {
            return Ok(());
        }
        let shift: i64 = shift.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "user {user_id}: expiry shift {shift} is not a number"
            ))
        })?;
        EMAIL_EXTEND
            .key(self.keys.email(&collection, &email))
            .arg(user_id)
            .arg(shift)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Removes an embedded session's field (one `HDEL`), else a session's own hash (one
    /// `DEL`) and then its index field: whichever command removes the session decides the
    /// answer, so of concurrent deletes exactly one says `true`.
    pub(super) async fn delete_session_impl(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        if let Some(user_id) = named_user(id) {
            let removed: usize = conn
                .hdel(self.keys.user(user_id), session_field(id))
                .await
                .map_err(map_err)?;
            if removed > 0 {
                return Ok(true);
            }
        }
        let key = self.keys.session(id);
        let user_id: Option<String> = conn.hget(&key, "u").await.map_err(map_err)?;
        let removed = self.delete_keys(vec![key]).await? > 0;
        if let Some(user_id) = user_id {
            let _: usize = conn
                .hdel(self.keys.user(&user_id), session_field(id))
                .await
                .map_err(map_err)?;
        }
        Ok(removed)
    }

    /// Deletes every session of a user; how many there were, and their ids.
    pub(super) async fn delete_user_sessions_impl(
        &self,
        user_id: &str,
    ) -> Result<(usize, Vec<String>), StoreError> {
        let key = self.keys.user(user_id);
        let mut conn = self.conn();
        let fields: Vec<String> = conn.hkeys(&key).await.map_err(map_err)?;
        let fields: Vec<String> = fields
            .into_iter()
            .filter(|field| session_of_field(field).is_some())
            .collect();
        if fields.is_empty() {
            return Ok((0, Vec::new()));
        }
        let standalone = self.standalone_session_keys(user_id, &fields);
        let embedded = fields.len() - standalone.len();
        let removed = self.delete_keys(standalone).await?;
        let _: usize = conn.hdel(&key, &fields).await.map_err(map_err)?;
        let ids = fields
            .iter()
            .filter_map(|field| session_of_field(field))
            .map(str::to_owned)
            .collect();
        Ok((embedded + removed, ids))
    }
}
