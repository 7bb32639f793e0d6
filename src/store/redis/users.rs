//! User records: insert (with a first session), read, upgrade in place, delete.
//!
//! Each record lives in its own slot, so operations that touch several records are short
//! sequences of single-slot steps, ordered so that a crash between two steps leaves only
//! harmless leftovers:
//!
//! - `insert_user` writes the user hash (with its first session: embedded, or its index field
//!   and then its own hash, see [`keys`](super::keys)) first, only if no live user has it (one
//!   script: two inserts of one id cannot both win), and reserves the email after that write
//!   has landed (see [`emails`](super::emails)). A concurrent insert of the same email
//!   therefore always finds a live holder, on any node. When the email is taken the writes
//!   are rolled back.
//! - `upgrade_user` reserves the new email, then rewrites the hash and removes its expiry in
//!   one script that first checks the user is still anonymous, then releases the old email.
//! - `delete_user` removes sessions, then the email entry (only if it still names the user),
//!   and the user hash last, so a retry after a crash finds what is left to do.
//!
//! Expiry: the records keep `expires_at` in the caller's clock. The keys get a Redis TTL of
//! `expires_at - now` plus the store's grace period (`PEXPIRE`, i.e. `PEXPIREAT` of the same
//! instant translated to the server's clock), so a clock difference between the application
//! and Redis does not matter; [`UserStore::refresh`](crate::store::UserStore::refresh) moves the Redis expiry
//! (`PEXPIRETIME` / `PEXPIREAT`) by exactly as much as it moves `expires_at`
//! (see [`sessions`](super::sessions)).

use super::codec::{
    decode_user, encode_embedded_session, encode_session, encode_user, FieldValue, SESSION_FIELDS,
    USER_FIELDS,
};
use super::conn::map_err;
use super::keys::{embedded_in, is_embedded, session_field, session_of_field};
use super::scripts::{INSERT_USER, MARK_EMAIL_VERIFIED, UPGRADE};
use super::RedisStore;
use crate::store::{SessionRecord, StoreError, UserRecord};
use crate::util::email::placeholder_owner;
use crate::util::email::{compact_email, full_email};
use futures::future::try_join_all;
use redis::AsyncCommands;
use std::collections::HashMap;

impl RedisStore {
    /// Redis TTL in ms for a record expiring at `expires_at` (caller clock) seen at `now`;
    /// `0` means no expiry.
    pub(super) fn ttl_ms(&self, expires_at: Option<u64>, now: u64) -> u64 {
        match expires_at {
            None => 0,
            Some(at) => at.saturating_sub(now).saturating_add(self.grace_ms).max(1),
        }
    }

    /// Writes the user hash (with its first session's field) unless a live user has it:
    /// `Ok(false)` then. `placeholder_key` (single node only): the index key of the user's own
    /// placeholder email, checked in the same script; `Err` with [`PlaceholderHeld`] when a
    /// user took that string as a real email (nothing is written).
    async fn insert_user_hash(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
        placeholder_key: Option<&str>,
    ) -> Result<Result<bool, PlaceholderHeld>, StoreError> {
        let hash = UserHash::new(record, session);
        let pairs = hash.pairs();
        let mut script = INSERT_USER.key(self.keys.user(&record.user.id));
        if let Some(key) = placeholder_key {
            script.key(key);
        }
        let written: i64 = script
            .arg(now)
            .arg(self.ttl_ms(record.expires_at, now))
            .arg(&record.user.id)
            .arg(USER_FIELDS.len())
            .arg(&USER_FIELDS[..])
            .arg(&pairs)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(match written {
            2 => Err(PlaceholderHeld),
            written => Ok(written == 1),
        })
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
        let exists = || StoreError::UserExists(user.id.clone());
        let standalone = session.filter(|session| !is_embedded(session));
        if self.single_node_guest(record) {
            // Its own placeholder email, on one node: checked in the same script, no index key.
            let placeholder = self.keys.email(&user.collection, &user.email);
            match self
                .insert_user_hash(record, session, now, Some(&placeholder))
                .await?
            {
                Ok(false) => return Err(exists()),
                Ok(true) => {
                    if let Some(session) = standalone {
                        self.write_session(session, now).await?;
                    }
                    return Ok(());
                }
                // A user took the placeholder as a real email: the general path tells a live
                // holder from a dead one.
                Err(PlaceholderHeld) => {}
            }
        }
        if !self
            .insert_user_hash(record, session, now, None)
            .await?
            .unwrap_or(false)
        {
            return Err(exists());
        }
        // The user hash has landed: only now is the email reserved, so a concurrent insert of
        // the same email on another node finds this user live (never a holder without a hash,
        // which it would take for dead and remove). The session's own hash and the email are
        // independent keys, written concurrently.
        let ttl = self.ttl_ms(record.expires_at, now);
        let write_session = async {
            match standalone {
                Some(session) => self.write_session(session, now).await,
                None => Ok(()),
            }
        };
        let (session_written, reserved) = futures::join!(
            write_session,
            self.reserve_email(&user.collection, &user.email, &user.id, ttl, now),
        );
        match session_written.and(reserved) {
            Ok(()) => Ok(()),
            Err(error) => {
                let mut keys = vec![self.keys.user(&user.id)];
                keys.extend(standalone.map(|s| self.keys.session(&s.id)));
                self.delete_keys(keys).await?;
                Err(error)
            }
        }
    }

    /// A guest whose id was never handed out: on a single node, with its own placeholder
    /// email, nobody can hold that email, so the user and its session are written without
    /// looking for a holder.
    pub(crate) async fn insert_fresh_guest(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        if self.single_node_guest(record) {
            return self.insert_fresh_guest_single(record, session, now).await;
        }
        self.insert_user_impl(record, session, now).await
    }

    /// Whether `record` is a guest with its own placeholder email on a single node (no email
    /// index key: [`insert_guest_single`](Self::insert_guest_single) can write it).
    fn single_node_guest(&self, record: &UserRecord) -> bool {
        !self.conn.is_cluster()
            && placeholder_owner(&record.user.email) == Some(record.user.id.as_str())
    }

    /// A guest whose id was made just now, with its own placeholder email, on a single node:
    /// user and first session in one pipeline (one round trip, plain commands: no script to
    /// run; one key when the session is embedded, the layer's case). Nobody holds its
    /// placeholder and it has no hash to clear or to find live.
    async fn insert_fresh_guest_single(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        let user = &record.user;
        let mut pipe = redis::pipe();
        replace_fields(
            &mut pipe,
            &self.keys.user(&user.id),
            &[],
            &UserHash::new(record, session).pairs(),
            self.ttl_ms(record.expires_at, now),
        );
        if let Some(session) = session.filter(|session| !is_embedded(session)) {
            let pairs = encode_session(session);
            replace_fields(
                &mut pipe,
                &self.keys.session(&session.id),
                &SESSION_FIELDS,
                &pairs,
                self.ttl_ms(Some(session.expires_at), now),
            );
        }
        let () = pipe.query_async(&mut self.conn()).await.map_err(map_err)?;
        Ok(())
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
        if !current.user.is_anonymous {
            return Err(StoreError::AlreadyRegistered(id.to_owned()));
        }
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
        if upgraded == -1 {
            // A concurrent registration won: give back the reservation unless that one took
            // the same email.
            let winner = self.live_user(id, now).await?;
            if winner.is_none_or(|winner| winner.user.email != email) {
                self.release_email(&collection, email, id).await?;
            }
            return Err(StoreError::AlreadyRegistered(id.to_owned()));
        }
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

    pub(super) async fn mark_email_verified_impl(
        &self,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let Some(mut record) = self.live_user(id, now).await? else {
            return Ok(None);
        };
        if record.user.is_anonymous || record.user.email != email {
            return Ok(None);
        }
        let marked: i64 = MARK_EMAIL_VERIFIED
            .key(self.keys.user(id))
            .arg(compact_email(id, email))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        if marked == 0 {
            return Ok(None);
        }
        record.user.email_verified = true;
        Ok(Some(record))
    }

    /// Deletes keys one command each (they may live on different cluster nodes); returns how
    /// many existed.
    pub(super) async fn delete_keys(&self, keys: Vec<String>) -> Result<usize, StoreError> {
        let deleted = try_join_all(keys.into_iter().map(|key| {
            let mut conn = self.conn();
            async move { conn.del::<_, usize>(key).await }
        }))
        .await
        .map_err(map_err)?;
        Ok(deleted.into_iter().sum())
    }

    /// The keys of the sessions with a hash of their own among `user_id`'s hash `fields`
    /// (embedded sessions have none: they go with their field).
    pub(super) fn standalone_session_keys<'f>(
        &self,
        user_id: &str,
        fields: impl IntoIterator<Item = &'f String>,
    ) -> Vec<String> {
        fields
            .into_iter()
            .filter_map(|field| session_of_field(field))
            .filter(|sid| !embedded_in(sid, user_id))
            .map(|sid| self.keys.session(sid))
            .collect()
    }

    /// Removes a user with its sessions, email and identities; the ids of its sessions.
    pub(super) async fn remove_user(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let key = self.keys.user(id);
        let all: HashMap<String, String> = self.conn().hgetall(&key).await.map_err(map_err)?;
        if all.is_empty() {
            return Ok(Vec::new());
        }
        self.delete_keys(self.standalone_session_keys(id, all.keys()))
            .await?;
        if let (Some(collection), Some(email)) = (all.get("c"), all.get("e")) {
            self.release_email(collection, &full_email(id, email.clone()), id)
                .await?;
            self.release_identities(collection, id, all.keys()).await?;
        }
        self.delete_keys(vec![key]).await?;
        Ok(all
            .keys()
            .filter_map(|field| session_of_field(field))
            .map(str::to_owned)
            .collect())
    }
}

/// [`INSERT_USER`]'s answer when a user holds another user's placeholder email as its real one.
struct PlaceholderHeld;

/// The field/value pairs of a user's hash: its record, and the field of its first session when
/// it comes with one (the whole session when embedded, else its index).
struct UserHash<'a> {
    record: [Option<(&'static str, FieldValue<'a>)>; 7],
    session: Option<(String, FieldValue<'static>)>,
}

impl<'a> UserHash<'a> {
    fn new(record: &'a UserRecord, session: Option<&SessionRecord>) -> Self {
        Self {
            record: encode_user(record),
            session: session.map(|s| (session_field(&s.id), session_field_value(s))),
        }
    }

    /// The pairs, borrowed (for `HSET` arguments).
    fn pairs(&self) -> Vec<(&str, FieldValue<'a>)> {
        let session = self.session.iter().map(|(f, v)| (f.as_str(), *v));
        self.record
            .iter()
            .flatten()
            .copied()
            .chain(session)
            .collect()
    }
}

/// The value of a session's field in its user's hash: the whole session when embedded, else
/// its expiry (the index of its own hash).
pub(super) fn session_field_value(session: &SessionRecord) -> FieldValue<'static> {
    if is_embedded(session) {
        encode_embedded_session(session)
    } else {
        FieldValue::Number(session.expires_at)
    }
}

/// Queues the commands that make hash `key` hold exactly `pairs` among `fields` (the others
/// cleared; fields outside `fields` kept), with a TTL of `ttl_ms` (`0`: no expiry).
/// Room for the arguments of a user's `HSET` (a guest's take about 150 bytes, a password
/// hash about 100 more).
const HSET_BYTES: usize = 384;

fn replace_fields(
    pipe: &mut redis::Pipeline,
    key: &str,
    fields: &[&str],
    pairs: &[(&str, FieldValue<'_>)],
    ttl_ms: u64,
) {
    let absent: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|field| !pairs.iter().any(|(set, _)| set == field))
        .collect();
    if !absent.is_empty() {
        pipe.hdel(key, absent).ignore();
    }
    // Sized for a user's hash up front (redis-rs grows a command's buffers step by step).
    let mut hset = redis::Cmd::with_capacity(2 + 2 * pairs.len(), HSET_BYTES);
    hset.arg("HSET").arg(key).arg(pairs);
    pipe.add_command(hset).ignore();
    if ttl_ms > 0 {
        pipe.pexpire(key, i64::try_from(ttl_ms).unwrap_or(i64::MAX))
            .ignore();
    } else {
        pipe.persist(key).ignore();
    }
}
