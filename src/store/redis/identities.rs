//! Sign-in identities: an index key per (collection, provider, subject) naming the user that
//! holds it, and a field per identity in that user's hash.
//!
//! The two live on different cluster slots, so they cannot change in one script. A user holds
//! an identity when both agree: the index names the user and the user's hash has the field.
//! Attaching writes the field first, then claims the index (compare-and-set, taking it over
//! from a holder that is gone or has no field); detaching removes the field first. A crash
//! between the two steps leaves one half, which reads as not held: a field without the index
//! is skipped by `identities_of`, an index without the field is taken over by the next attach.

use super::conn::map_err;
use super::scripts::{DELETE_IF, EMAIL_CLAIM, HASH_SET_IF_EXISTS};
use super::RedisStore;
use crate::store::{IdentityRecord, IdentityStore, StoreError};
use async_trait::async_trait;
use redis::AsyncCommands;
use std::collections::HashMap;

/// How often a contended index claim is retried before giving up.
const ATTEMPTS: usize = 8;

/// The user-hash field of an identity: `i:{provider length}:{provider}:{subject}`.
pub(super) fn identity_field(provider: &str, subject: &str) -> String {
    format!("i:{}:{provider}:{subject}", provider.len())
}

/// The provider and subject an identity field names.
pub(super) fn identity_of_field(field: &str) -> Option<(&str, &str)> {
    let (len, rest) = field.strip_prefix("i:")?.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let provider = rest.get(..len)?;
    let subject = rest.get(len..)?.strip_prefix(':')?;
    Some((provider, subject))
}

/// A field's value: `{linked_at}:{email}` (the email empty when there is none).
fn encode(identity: &IdentityRecord) -> String {
    format!(
        "{}:{}",
        identity.linked_at,
        identity.email.as_deref().unwrap_or_default()
    )
}

fn decode(
    provider: &str,
    subject: &str,
    user_id: &str,
    value: &str,
) -> Result<IdentityRecord, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("identity {provider}:{subject} of {user_id}"));
    let (linked_at, email) = value.split_once(':').ok_or_else(corrupt)?;
    let linked_at = linked_at.parse().map_err(|_| corrupt())?;
    let email = (!email.is_empty()).then(|| email.to_owned());
    Ok(IdentityRecord::new(provider, subject, user_id, linked_at).with_email(email))
}

impl RedisStore {
    /// The identity's record, when `user_id` is live at `now`, of `collection`, and holds it.
    async fn held_by(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        user_id: &str,
        now: u64,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let value: Option<String> = self
            .conn()
            .hget(self.keys.user(user_id), identity_field(provider, subject))
            .await
            .map_err(map_err)?;
        let Some(value) = value else { return Ok(None) };
        let live = self
            .live_user(user_id, now)
            .await?
            .is_some_and(|record| record.user.collection == collection);
        if !live {
            return Ok(None);
        }
        decode(provider, subject, user_id, &value).map(Some)
    }

    /// Releases the index entries of the identities in a user's hash (`fields`), as the
    /// user is removed.
    pub(super) async fn release_identities<'f>(
        &self,
        collection: &str,
        user_id: &str,
        fields: impl Iterator<Item = &'f String>,
    ) -> Result<(), StoreError> {
        for (provider, subject) in fields.filter_map(|field| identity_of_field(field)) {
            DELETE_IF
                .key(self.keys.identity(collection, provider, subject))
                .arg(user_id)
                .invoke_async::<i64>(&mut self.conn())
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }
}

#[async_trait]
impl IdentityStore for RedisStore {
    async fn attach_identity(
        &self,
        collection: &str,
        identity: &IdentityRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        let (provider, subject, user) = (&identity.provider, &identity.subject, &identity.user_id);
        let not_found = || StoreError::UserNotFound(user.clone());
        if self
            .live_user(user, now)
            .await?
            .is_none_or(|record| record.user.collection != collection)
        {
            return Err(not_found());
        }
        let field = identity_field(provider, subject);
        let mut conn = self.conn();
        // The field first: whenever the index names a user, that user has the field (until
        // it detaches), so an attach in flight never looks stale to a concurrent one.
        let written: i64 = HASH_SET_IF_EXISTS
            .key(self.keys.user(user))
            .arg(&field)
            .arg(encode(identity))
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        if written == 0 {
            return Err(not_found());
        }
        let index = self.keys.identity(collection, provider, subject);
        for _ in 0..ATTEMPTS {
            let holder: Option<String> = conn.get(&index).await.map_err(map_err)?;
            let stale = match holder {
                Some(holder) if holder != *user => {
                    let held = self
                        .held_by(collection, provider, subject, &holder, now)
                        .await?;
                    if held.is_some() {
                        let _: i64 = conn
                            .hdel(self.keys.user(user), &field)
                            .await
                            .map_err(map_err)?;
                        return Err(StoreError::IdentityTaken);
                    }
                    holder
                }
                _ => String::new(),
            };
            let conflict: Option<String> = EMAIL_CLAIM
                .key(&index)
                .arg(user)
                .arg(&stale)
                .arg(0)
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?;
            if conflict.is_none() {
                return Ok(());
            }
        }
        Err(StoreError::Backend(format!(
            "identity index {index} kept changing"
        )))
    }

    async fn find_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        now: u64,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let holder: Option<String> = self
            .conn()
            .get(self.keys.identity(collection, provider, subject))
            .await
            .map_err(map_err)?;
        match holder {
            Some(holder) => {
                self.held_by(collection, provider, subject, &holder, now)
                    .await
            }
            None => Ok(None),
        }
    }

    async fn detach_identity(
        &self,
        collection: &str,
        provider: &str,
        subject: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let removed: i64 = conn
            .hdel(self.keys.user(user_id), identity_field(provider, subject))
            .await
            .map_err(map_err)?;
        DELETE_IF
            .key(self.keys.identity(collection, provider, subject))
            .arg(user_id)
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(removed == 1)
    }

    async fn identities_of(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<IdentityRecord>, StoreError> {
        if self.live_user(user_id, now).await?.is_none() {
            return Ok(Vec::new());
        }
        let all: HashMap<String, String> = self
            .conn()
            .hgetall(self.keys.user(user_id))
            .await
            .map_err(map_err)?;
        let Some(collection) = all.get("c") else {
            return Ok(Vec::new());
        };
        let mut held = Vec::new();
        for (field, value) in &all {
            let Some((provider, subject)) = identity_of_field(field) else {
                continue;
            };
            // A field whose index names someone else is what a crashed attach left behind.
            let holder: Option<String> = self
                .conn()
                .get(self.keys.identity(collection, provider, subject))
                .await
                .map_err(map_err)?;
            if holder.as_deref() == Some(user_id) {
                held.push(decode(provider, subject, user_id, value)?);
            }
        }
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_field_names_its_provider_and_subject() {
        let field = identity_field("https://id.example:8443", "a:b:c");
        assert_eq!(
            identity_of_field(&field),
            Some(("https://id.example:8443", "a:b:c"))
        );
        for not_identity in ["s:u1.x", "c", "i:", "i:x:y", "i:9:short", "i:1:ab"] {
            assert_eq!(identity_of_field(not_identity), None, "{not_identity}");
        }
    }

    proptest! {
        /// Any provider and subject survive the field's encoding; any field parses without
        /// panicking.
        #[test]
        fn fields_round_trip(provider in "\\PC{1,20}", subject in "\\PC{0,40}", junk in "\\PC{0,40}") {
            let field = identity_field(&provider, &subject);
            prop_assert_eq!(identity_of_field(&field), Some((provider.as_str(), subject.as_str())));
            let _ = identity_of_field(&junk);
        }
    }
}
