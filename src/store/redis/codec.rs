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
use redis::{RedisWrite, ToRedisArgs, ToSingleRedisArg};

/// The user fields, in the order [`decode_user`] expects them from `HMGET`.
pub(crate) const USER_FIELDS: [&str; 7] = ["c", "e", "n", "a", "t", "x", "p"];
/// The session fields, in the order [`decode_session`] expects them from `HMGET`.
pub(crate) const SESSION_FIELDS: [&str; 3] = ["u", "t", "x"];

/// A field's value as written: text borrowed from the record, or numbers that redis-rs
/// formats straight into the command (no string is made per field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValue<'a> {
    /// Text, as is.
    Text(&'a str),
    /// A number in decimal.
    Number(u64),
    /// An embedded session: `{expires_at}:{created_at}`.
    Embedded { expires_at: u64, created_at: u64 },
}

impl ToRedisArgs for FieldValue<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        match *self {
            Self::Text(text) => out.write_arg(text.as_bytes()),
            Self::Number(number) => number.write_redis_args(out),
            Self::Embedded {
                expires_at,
                created_at,
            } => {
                let (mut expires, mut created) = (itoa::Buffer::new(), itoa::Buffer::new());
                let (expires, created) = (expires.format(expires_at), created.format(created_at));
                let mut value = [0u8; 41];
                let len = expires.len() + 1 + created.len();
                value[..expires.len()].copy_from_slice(expires.as_bytes());
                value[expires.len()] = b':';
                value[expires.len() + 1..len].copy_from_slice(created.as_bytes());
                out.write_arg(&value[..len]);
            }
        }
    }
}

impl ToSingleRedisArg for FieldValue<'_> {}

impl std::fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(text) => f.write_str(text),
            Self::Number(number) => write!(f, "{number}"),
            Self::Embedded {
                expires_at,
                created_at,
            } => write!(f, "{expires_at}:{created_at}"),
        }
    }
}

/// Field/value pairs for `HSET` of a user record (every field: "no expiry" and "no password"
/// are empty values rather than absent fields, so replacing a record needs no `HDEL`).
pub(crate) fn encode_user(record: &UserRecord) -> [(&'static str, FieldValue<'_>); 7] {
    let user = &record.user;
    [
        ("c", FieldValue::Text(&user.collection)),
        ("e", FieldValue::Text(compact_email(&user.id, &user.email))),
        ("n", FieldValue::Text(&user.name)),
        (
            "a",
            FieldValue::Text(if user.is_anonymous { "1" } else { "0" }),
        ),
        ("t", FieldValue::Number(user.created_at)),
        (
            "x",
            record
                .expires_at
                .map_or(FieldValue::Text(""), FieldValue::Number),
        ),
        (
            "p",
            FieldValue::Text(record.password_hash.as_deref().unwrap_or_default()),
        ),
    ]
}

/// Field/value pairs for `HSET` of a session record.
pub(crate) fn encode_session(session: &SessionRecord) -> [(&'static str, FieldValue<'_>); 3] {
    [
        ("u", FieldValue::Text(&session.user_id)),
        ("t", FieldValue::Number(session.created_at)),
        ("x", FieldValue::Number(session.expires_at)),
    ]
}

/// The value of an embedded session's field in its user's hash.
pub(crate) fn encode_embedded_session(session: &SessionRecord) -> FieldValue<'static> {
    FieldValue::Embedded {
        expires_at: session.expires_at,
        created_at: session.created_at,
    }
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

    fn values(pairs: &[(&str, FieldValue<'_>)], fields: &[&str]) -> Vec<Option<String>> {
        fields
            .iter()
            .map(|f| {
                pairs
                    .iter()
                    .find(|(k, _)| k == f)
                    .map(|(_, v)| v.to_string())
            })
            .collect()
    }

    /// What redis-rs sends for a value.
    fn sent(value: FieldValue<'_>) -> Vec<u8> {
        let mut args = value.to_redis_args();
        assert_eq!(args.len(), 1, "one argument per value");
        args.remove(0)
    }

    #[test]
    fn values_are_sent_as_displayed() {
        let values = [
            FieldValue::Text(""),
            FieldValue::Text("a b:c"),
            FieldValue::Number(0),
            FieldValue::Number(u64::MAX),
            FieldValue::Embedded {
                expires_at: u64::MAX,
                created_at: u64::MAX,
            },
            FieldValue::Embedded {
                expires_at: 1_795_457_081_571,
                created_at: 7,
            },
        ];
        for value in values {
            assert_eq!(sent(value), value.to_string().into_bytes(), "{value:?}");
        }
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
        let value = encode_embedded_session(&session).to_string();
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
