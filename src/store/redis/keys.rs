//! Key layout: every key name the store uses, built in one place.
//!
//! With prefix `P` (default `taa:`):
//!
//! | key                     | type   | holds                                              |
//! |-------------------------|--------|----------------------------------------------------|
//! | `P{u:ID}`               | hash   | user fields `c e n a t x p` + one `s:SID` per session |
//! | `P{s:SID}`              | hash   | session fields `u t x`                             |
//! | `P{e:LEN:COLL:EMAIL}`   | string | id of the user holding that email in that collection |
//! | `P{r:RESOURCE}`         | string | owner of the resource (the single source of truth) |
//! | `P{o:OWNER}`            | set    | resources listed under the owner                   |
//! | `P{l:BUCKET}`           | string | GCRA arrival time of a mint rate-limit bucket      |
//! | `P{k:KEY}`              | string | holder of a lease (cross-instance lock), with a TTL |
//!
//! Each record sits in its own hash tag, so each key is one cluster slot and every Lua script
//! touches the keys of one slot only (except the single-node transfer batch, see
//! [`transfer`](super::transfer)). The collection is length-prefixed so that a `:` in a
//! collection name cannot make two (collection, email) pairs share a key. A `{` in the prefix
//! itself sets the hash tag for every key (`"app{1}:"` pins all keys to one slot).

/// Builds key names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

/// Hash field of a user hash that indexes one session.
pub(crate) fn session_field(session_id: &str) -> String {
    format!("s:{session_id}")
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

    pub(crate) fn user(&self, id: &str) -> String {
        format!("{}{{u:{id}}}", self.prefix)
    }

    pub(crate) fn session(&self, id: &str) -> String {
        format!("{}{{s:{id}}}", self.prefix)
    }

    pub(crate) fn email(&self, collection: &str, email: &str) -> String {
        format!(
            "{}{{e:{}:{collection}:{email}}}",
            self.prefix,
            collection.len()
        )
    }

    pub(crate) fn owner(&self, resource: &str) -> String {
        format!("{}{{r:{resource}}}", self.prefix)
    }

    pub(crate) fn owned(&self, owner: &str) -> String {
        format!("{}{{o:{owner}}}", self.prefix)
    }

    pub(crate) fn limit(&self, bucket: &str) -> String {
        format!("{}{{l:{bucket}}}", self.prefix)
    }

    pub(crate) fn lease(&self, key: &str) -> String {
        format!("{}{{k:{key}}}", self.prefix)
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
}
