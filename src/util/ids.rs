//! Ids: random user and session ids, the session ids that name their user, and durations in
//! the milliseconds the stores count in.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::time::Duration;

/// A new random id: 128 bits from the thread's CSPRNG, base64url without padding (22
/// characters of `A-Z a-z 0-9 - _`). Encoded on the stack: `encode_string`'s chunked writer
/// costs more than the encoding of 16 bytes itself.
pub(crate) fn new_id() -> String {
    let bits: [u8; 16] = rand::random();
    let mut encoded = [0u8; 22];
    let written = URL_SAFE_NO_PAD
        .encode_slice(bits, &mut encoded)
        .unwrap_or_default();
    std::str::from_utf8(&encoded[..written])
        .unwrap_or_default()
        .to_owned()
}

/// A new session id for `user_id`: `{user_id}.{random id}`. A session id that names its user
/// lets a store keep the session inside the user's record (RedisStore: a guest is one key).
pub(crate) fn new_session_id(user_id: &str) -> String {
    session_id_of(user_id, &new_id())
}

/// What follows `{user_id}.` in the id of a guest's first session (the one minted with it):
/// never one of [`new_session_id`]'s random parts (22 characters), and implied by a token
/// that names no session.
pub(crate) const FIRST_SESSION: &str = "0";

/// The id of the first session of a guest, the one minted with it: `{user_id}.0`. Unique
/// because the user id is new; not a secret (a session id is never a credential: tokens are
/// signed), so a token can leave it out.
pub(crate) fn first_session_id(user_id: &str) -> String {
    session_id_of(user_id, FIRST_SESSION)
}

/// The session id `{user_id}.{part}`: a session that names its user (see [`new_session_id`]).
pub(crate) fn session_id_of(user_id: &str, part: &str) -> String {
    // Pushed into a presized string: one allocation on the path every mint takes.
    let mut id = String::with_capacity(user_id.len() + 1 + part.len());
    id.push_str(user_id);
    id.push('.');
    id.push_str(part);
    id
}

/// The user a session id names, when it has the form `{user_id}.{part}` (see
/// [`session_id_of`]): `u1` for `u1.r4nd`.
pub(crate) fn named_user(session_id: &str) -> Option<&str> {
    let (user, part) = session_id.rsplit_once('.')?;
    (!user.is_empty() && !part.is_empty()).then_some(user)
}

/// `duration` in whole milliseconds, saturating (the stores count time in milliseconds).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_session_id_names_the_user_before_its_last_dot() {
        assert_eq!(named_user(&first_session_id("u1")), Some("u1"));
        assert_eq!(named_user("u1.r4nd"), Some("u1"));
        assert_eq!(named_user("a.b.c"), Some("a.b"));
        assert_eq!(named_user("plain"), None);
        assert_eq!(named_user(".r"), None);
        assert_eq!(named_user("u."), None);
    }

    #[test]
    fn ids_are_128_random_bits_in_base64url() {
        let ids: HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000, "ids repeat");
        for id in &ids {
            assert_eq!(id.len(), 22, "{id}");
            assert_eq!(
                URL_SAFE_NO_PAD.decode(id).map(|bytes| bytes.len()),
                Ok(16),
                "{id}"
            );
        }
    }
}
