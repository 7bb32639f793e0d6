//! Key layout: every key name the store uses, built in one place.
//!
//! With prefix `P` (default `taa:`):
//!
//! | key                     | type   | holds                                              |
//! |-------------------------|--------|----------------------------------------------------|
//! | `P{u:ID}`               | hash   | user fields `c e n a t x p` (`n`, `p` left out at their defaults) + one `s:SID` per session + one `i:LEN:PROVIDER:SUBJECT` per identity |
//! | `P{s:SID}`              | hash   | session fields `u t x` (only sessions not embedded) |
//! | `P{e:LEN:COLL:EMAIL}`   | string | id of the user holding that email in that collection |
//! | `P{i:LEN:COLL:LEN:PROVIDER:SUBJECT}` | string | id of the user holding that identity (the hint; the user's `i:` field is the truth) |
//! | `P{r:RESOURCE}`         | string | owner of the resource (the single source of truth) |
//! | `P{o:OWNER}`            | set    | resources listed under the owner                   |
//! | `P{l:BUCKET}`           | string | GCRA arrival time of a mint rate-limit bucket      |
//! | `P{k:KEY}`              | string | holder of a lease (cross-instance lock), with a TTL |
//! | `P{m:KEY}`              | hash   | a one-time email code: fields `c l e x a` (proofs, email, expiry, tries left), with a TTL |
//!
//! Each record sits in its own hash tag, so each key is one cluster slot and every Lua script
//! touches the keys of one slot only (except the single-node transfer batch, see
//! [`transfer`](super::transfer)). The collection is length-prefixed so that a `:` in a
//! collection name cannot make two (collection, email) pairs share a key. A `{` in the prefix
//! itself sets the hash tag for every key (`"app{1}:"` pins all keys to one slot).

//!
//! A session whose id names its user (`{user_id}.{random}`, how the layer makes them) is
//! *embedded*: its whole record is the value of its `s:SID` field in the user's hash
//! (`{expires_at}:{created_at}`), so a guest with its session is one key. Any other session
//! has a hash of its own, and its user's `s:SID` field holds just its expiry (the index).

use crate::store::SessionRecord;
pub(crate) use crate::util::ids::named_user;

/// Builds key names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

/// Hash field of a user hash that indexes one session.
pub(crate) fn session_field(session_id: &str) -> String {
    ["s:", session_id].concat()
}

/// Whether `session` lives inside its user's hash (its id names its user).
pub(crate) fn is_embedded(session: &SessionRecord) -> bool {
    embedded_in(&session.id, &session.user_id)
}

/// Whether session `session_id` of user `user_id` lives inside that user's hash.
pub(crate) fn embedded_in(session_id: &str, user_id: &str) -> bool {
    named_user(session_id) == Some(user_id)
}

/// The session id a user-hash field indexes, if the field is a session field.
pub(crate) fn session_of_field(field: &str) -> Option<&str> {
    field.strip_prefix("s:")
}

impl Keys {
    pub(crate) fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}{{tag}{id}}`, in one allocation (`format!` costs several times more on the
    /// mint path, which makes a key per guest).
    fn tagged(&self, tag: &str, id: &str) -> String {
        [self.prefix.as_str(), "{", tag, id, "}"].concat()
    }

    pub(crate) fn user(&self, id: &str) -> String {
        self.tagged("u:", id)
    }

    pub(crate) fn session(&self, id: &str) -> String {
        self.tagged("s:", id)
    }

    pub(crate) fn email(&self, collection: &str, email: &str) -> String {
        format!(
            "{}{{e:{}:{collection}:{email}}}",
            self.prefix,
            collection.len()
        )
    }

    pub(crate) fn identity(&self, collection: &str, provider: &str, subject: &str) -> String {
        format!(
            "{}{{i:{}:{collection}:{}:{provider}:{subject}}}",
            self.prefix,
            collection.len(),
            provider.len()
        )
    }

    pub(crate) fn owner(&self, resource: &str) -> String {
        self.tagged("r:", resource)
    }

    pub(crate) fn owned(&self, owner: &str) -> String {
        self.tagged("o:", owner)
    }

    pub(crate) fn limit(&self, bucket: &str) -> String {
        self.tagged("l:", bucket)
    }

    pub(crate) fn lease(&self, key: &str) -> String {
        self.tagged("k:", key)
    }

    /// The hash of the one-time email code under `key`.
    pub(crate) fn email_code(&self, key: &str) -> String {
        self.tagged("m:", key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_is_length_prefixed() {
        let keys = Keys::new("p:");
        assert_ne!(keys.email("a:b", "c"), keys.email("a", "b:c"));
        assert_eq!(keys.user("42"), "p:{u:42}");
        assert_eq!(session_of_field(&session_field("x")), Some("x"));
        assert_eq!(session_of_field("c"), None);
    }

    #[test]
    fn a_session_is_embedded_when_its_id_names_its_user() {
        assert!(is_embedded(&SessionRecord::new("u1.r", "u1", 0, 1)));
        assert!(!is_embedded(&SessionRecord::new("u1.r", "u2", 0, 1)));
        assert!(!is_embedded(&SessionRecord::new("s1", "u1", 0, 1)));
    }
}
