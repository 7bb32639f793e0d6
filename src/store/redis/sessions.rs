//! Sessions: one hash per session, indexed by a field of its user's hash, and the sliding
//! expiry of [`Store::refresh`](crate::Store::refresh).
//!
//! `refresh` moves the session's `x` field and its key expiry together in one script, then
//! (for an anonymous user) the user's, then the user's indexed email key's, each by exactly
//! as much as its own `expires_at` moved. The session index field holds the session's expiry,
//! so adding a session prunes the fields of sessions long expired. The index field is written
//! before the session hash, so every session that exists is indexed and
//! `delete_user_sessions` (revocation on a privilege change) cannot miss one.

use super::codec::{decode_session, encode_session, SESSION_FIELDS};
use super::conn::map_err;
use super::emails::placeholder_owner;
use super::keys::{session_field, session_of_field};
use super::scripts::{EMAIL_EXTEND, REPLACE_FIELDS, SESSION_INDEX, SESSION_REFRESH, USER_REFRESH};
use super::RedisStore;
use crate::email::full_email;
use crate::store::{SessionRecord, StoreError};
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
            .arg(encode_session(session))
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
