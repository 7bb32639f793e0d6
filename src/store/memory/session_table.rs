//! The sessions of a [`MemoryStore`](super::MemoryStore), kept by user.

use super::HashMap;
use crate::store::SessionRecord;
use crate::util::ids::named_user;

/// Every session, in lists by the id of its user. A session id the layer makes names its
/// user (`{user_id}.{part}`), so the session is found through its user and a guest's one
/// session costs one table entry; a session id that does not name its user (an app's own
/// store calls) gets an entry in a small index beside.
#[derive(Debug, Default)]
pub(super) struct SessionTable {
    /// A user's sessions: a few at most, so a list.
    by_user: HashMap<String, Vec<SessionRecord>>,
    /// The user of each session whose id does not name it.
    unnamed: HashMap<String, String>,
}

impl SessionTable {
    /// Session `id`, live or not.
    pub(super) fn get(&self, id: &str) -> Option<&SessionRecord> {
        let user = owner(&self.unnamed, id)?;
        self.by_user
            .get(user)?
            .iter()
            .find(|session| session.id == id)
    }

    /// Session `id`, to change it in place.
    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut SessionRecord> {
        let user = owner(&self.unnamed, id)?;
        self.by_user
            .get_mut(user)?
            .iter_mut()
            .find(|session| session.id == id)
    }

    /// Adds `session`, replacing a session of the same id (of whichever user).
    pub(super) fn insert(&mut self, session: &SessionRecord) {
        self.remove(&session.id);
        if !names_its_user(session) {
            self.unnamed
                .insert(session.id.clone(), session.user_id.clone());
        }
        match self.by_user.get_mut(&session.user_id) {
            Some(sessions) => sessions.push(session.clone()),
            None => {
                self.by_user
                    .insert(session.user_id.clone(), vec![session.clone()]);
            }
        }
    }

    /// Removes session `id`; `true` when there was one.
    pub(super) fn remove(&mut self, id: &str) -> bool {
        let unnamed = self.unnamed.remove(id);
        let Some(user) = unnamed.as_deref().or_else(|| named_user(id)) else {
            return false;
        };
        let Some(sessions) = self.by_user.get_mut(user) else {
            return false;
        };
        let Some(at) = sessions.iter().position(|session| session.id == id) else {
            return false;
        };
        sessions.swap_remove(at);
        if sessions.is_empty() {
            self.by_user.remove(user);
        }
        true
    }

    /// Removes every session of `user_id`; returns how many there were.
    pub(super) fn remove_user(&mut self, user_id: &str) -> usize {
        let sessions = self.by_user.remove(user_id).unwrap_or_default();
        for session in sessions.iter().filter(|session| !names_its_user(session)) {
            self.unnamed.remove(&session.id);
        }
        sessions.len()
    }

    /// Every session, live or not.
    pub(super) fn iter(&self) -> impl Iterator<Item = &SessionRecord> {
        self.by_user.values().flatten()
    }

    /// How many sessions there are.
    pub(super) fn len(&self) -> usize {
        self.by_user.values().map(Vec::len).sum()
    }
}

/// The user session `id` belongs to, as far as its id or the index says.
fn owner<'a>(unnamed: &'a HashMap<String, String>, id: &'a str) -> Option<&'a str> {
    unnamed
        .get(id)
        .map(String::as_str)
        .or_else(|| named_user(id))
}

/// Whether `session`'s id names its user, so it needs no index entry.
fn names_its_user(session: &SessionRecord) -> bool {
    named_user(&session.id) == Some(session.user_id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, user: &str) -> SessionRecord {
        SessionRecord::new(id, user, 0, 10)
    }

    #[test]
    fn a_session_naming_its_user_needs_no_index_entry() {
        let mut table = SessionTable::default();
        table.insert(&session("u1.0", "u1"));
        assert!(table.unnamed.is_empty());
        assert_eq!(table.get("u1.0").map(|s| s.user_id.as_str()), Some("u1"));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn sessions_that_do_not_name_their_user_are_found_through_the_index() {
        let mut table = SessionTable::default();
        table.insert(&session("s1", "u1"));
        table.insert(&session("u1.x", "u2"));
        assert_eq!(table.get("s1").map(|s| s.user_id.as_str()), Some("u1"));
        assert_eq!(table.get("u1.x").map(|s| s.user_id.as_str()), Some("u2"));
        assert_eq!(table.remove_user("u2"), 1);
        assert_eq!(table.get("u1.x"), None);
        assert_eq!(table.unnamed.len(), 1);
    }

    #[test]
    fn inserting_an_id_again_replaces_the_session_whoever_held_it() {
        let mut table = SessionTable::default();
        table.insert(&session("u1.x", "u1"));
        table.insert(&session("u1.x", "u2"));
        assert_eq!(table.len(), 1);
        assert_eq!(table.get("u1.x").map(|s| s.user_id.as_str()), Some("u2"));
        assert!(table.remove("u1.x"));
        assert!(!table.remove("u1.x"));
        assert_eq!(table.len(), 0);
        assert!(table.by_user.is_empty() && table.unnamed.is_empty());
    }

    #[test]
    fn removing_one_of_a_users_sessions_keeps_the_others() {
        let mut table = SessionTable::default();
        table.insert(&session("u1.a", "u1"));
        table.insert(&session("u1.b", "u1"));
        table.insert(&session("s9", "u1"));
        assert!(table.remove("u1.a"));
        assert!(table.get("u1.b").is_some() && table.get("s9").is_some());
        assert_eq!(table.remove_user("u1"), 2);
        assert_eq!(table.len(), 0);
        assert!(table.unnamed.is_empty());
    }
}
