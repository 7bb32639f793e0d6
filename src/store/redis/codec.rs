//! Records as Redis hash fields, with one-letter field names so that small hashes stay in
//! Redis's compact listpack encoding.
//!
//! User hash: `c` collection, `e` email (just `@domain` for the placeholder `temp-{id}@domain`), `n` name, `a` `1`/`0` anonymous, `t` created at,
//! `x` expires at (empty for registered users), `p` password hash (empty when none; an absent
//! `x` or `p`, as older records have, reads the same).
//! Session hash: `u` user id, `t` created at, `x` expires at.
//! Embedded session (a `s:SID` field of its user's hash, see [`keys`](super::keys)):
//! `{expires_at}:{created_at}`; the index field of a session with its own hash: `{expires_at}`.

use crate::email::{compact_email, full_email};
use crate::store::{SessionRecord, StoreError, User, UserRecord};

/// The user fields, in the order [`decode_user`] expects them from `HMGET`.
pub(crate) const USER_FIELDS: [&str; 7] = ["c", "e", "n", "a", "t", "x", "p"];
/// The session fields, in the order [`decode_session`] expects them from `HMGET`.
pub(crate) const SESSION_FIELDS: [&str; 3] = ["u", "t", "x"];

/// Field/value pairs for `HSET` of a user record.
pub(crate) fn encode_user(record: &UserRecord) -> Vec<(&'static str, String)> {
    let user = &record.user;
    let mut fields = vec![
        ("c", user.collection.clone()),
        ("e", compact_email(&user.id, &user.email).to_owned()),
        ("n", user.name.clone()),
        ("a", if user.is_anonymous { "1" } else { "0" }.to_owned()),
        ("t", user.created_at.to_string()),
    ];
    // "No expiry" and "no password" are empty values rather than absent fields, so that every
    // field is written: replacing a record then needs no `HDEL` (one command less per guest).
    fields.push((
        "x",
        record
            .expires_at
            .map(|at| at.to_string())
            .unwrap_or_default(),
    ));
    fields.push(("p", record.password_hash.clone().unwrap_or_default()));
    fields
}

/// Field/value pairs for `HSET` of a session record.
pub(crate) fn encode_session(session: &SessionRecord) -> Vec<(&'static str, String)> {
    vec![
        ("u", session.user_id.clone()),
        ("t", session.created_at.to_string()),
        ("x", session.expires_at.to_string()),
    ]
}

/// The value of an embedded session's field in its user's hash.
pub(crate) fn encode_embedded_session(session: &SessionRecord) -> String {
    format!("{}:{}", session.expires_at, session.created_at)
}

/// Decodes an embedded session's field value; `None` when the field is the bare expiry that
/// indexes a session with a hash of its own.
pub(crate) fn decode_embedded_session(
    key: &str,
    id: &str,
    user_id: &str,
    value: &str,
) -> Result<Option<SessionRecord>, StoreError> {
    let Some((expires_at, created_at)) = value.split_once(':') else {
        number(key, id, value)?;
        return Ok(None);
    };
    let expires_at = number(key, id, expires_at)?;
    let created_at = number(key, id, created_at)?;
    Ok(Some(SessionRecord::new(
        id, user_id, created_at, expires_at,
    )))
}

fn number(key: &str, field: &str, value: &str) -> Result<u64, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{key}: field {field} is not a number")))
}

fn required(key: &str, field: &str, value: Option<String>) -> Result<String, StoreError> {
    value.ok_or_else(|| StoreError::Corrupt(format!("{key}: field {field} is missing")))
}

/// Decodes `HMGET key c e n a t x p`; `None` when the user does not exist.
pub(crate) fn decode_user(
    key: &str,
    id: &str,
    values: Vec<Option<String>>,
) -> Result<Option<UserRecord>, StoreError> {
    let [c, e, n, a, t, x, p]: [Option<String>; 7] = values
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{key}: wrong field count")))?;
    let Some(collection) = c else {
        return Ok(None);
    };
    let is_anonymous = match required(key, "a", a)?.as_str() {
        "1" => true,
        "0" => false,
        _ => return Err(StoreError::Corrupt(format!("{key}: field a is not 0/1"))),
    };
    let user = User {
        id: id.to_owned(),
        collection,
        email: full_email(id, required(key, "e", e)?),
        name: required(key, "n", n)?,
        is_anonymous,
        created_at: number(key, "t", &required(key, "t", t)?)?,
    };
    let expires_at = present(x).map(|at| number(key, "x", &at)).transpose()?;
    Ok(Some(
        UserRecord::new(user)
            .with_password_hash(present(p))
            .with_expires_at(expires_at),
    ))
}

/// An optional field: absent or empty means none.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

/// Decodes `HMGET key u t x`; `None` when the session does not exist.
pub(crate) fn decode_session(
    key: &str,
    id: &str,
    values: Vec<Option<String>>,
) -> Result<Option<SessionRecord>, StoreError> {
    let [u, t, x]: [Option<String>; 3] = values
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{key}: wrong field count")))?;
    let Some(user_id) = u else {
        return Ok(None);
    };
    let created_at = number(key, "t", &required(key, "t", t)?)?;
    let expires_at = number(key, "x", &required(key, "x", x)?)?;
    Ok(Some(SessionRecord::new(
        id, user_id, created_at, expires_at,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, String)], fields: &[&str]) -> Vec<Option<String>> {
        fields
            .iter()
            .map(|f| pairs.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone()))
            .collect()
    }

    #[test]
    fn user_round_trips() {
        let record = UserRecord::new(User::anonymous("1", "users", "t@x.io", "N", 5))
            .with_expires_at(Some(9));
        let back = decode_user("k", "1", values(&encode_user(&record), &USER_FIELDS)).unwrap();
        assert_eq!(back, Some(record.clone()));
        let member = UserRecord::new(User::registered("2", "u", "a@b", "A", 1))
            .with_password_hash(Some("$h".into()));
        let back = decode_user("k", "2", values(&encode_user(&member), &USER_FIELDS)).unwrap();
        assert_eq!(back, Some(member.clone()));
        let mut without_optional = values(&encode_user(&member), &USER_FIELDS);
        without_optional[5] = None;
        let back = decode_user("k", "2", without_optional).unwrap().unwrap();
        assert_eq!(back.expires_at, None, "an absent x reads as no expiry");
        assert_eq!(
            encode_user(&record).len(),
            USER_FIELDS.len(),
            "every field is written"
        );
    }

    #[test]
    fn embedded_session_round_trips() {
        let session = SessionRecord::new("u.r", "u", 5, 9);
        let value = encode_embedded_session(&session);
        assert_eq!(
            decode_embedded_session("k", "u.r", "u", &value).unwrap(),
            Some(session)
        );
        assert_eq!(decode_embedded_session("k", "u.r", "u", "9").unwrap(), None);
        for bad in ["", "x", "9:", ":5", "9:x", "1:2:3", "-1:2"] {
            assert!(
                matches!(
                    decode_embedded_session("k", "u.r", "u", bad),
                    Err(StoreError::Corrupt(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bad_data_is_corrupt_not_panic() {
        let mut v = vec![Some("users".to_string()); 7];
        v[3] = Some("maybe".into());
        assert!(matches!(
            decode_user("k", "1", v),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode_user("k", "1", vec![]),
            Err(StoreError::Corrupt(_))
        ));
        let s = vec![Some("u".into()), Some("x".into()), Some("1".into())];
        assert!(matches!(
            decode_session("k", "s", s),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            decode_session("k", "s", vec![None, None, None]).unwrap(),
            None
        );
    }
}
