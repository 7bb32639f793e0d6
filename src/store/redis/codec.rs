//! Records as Redis hash fields, with one-letter field names so that small hashes stay in
//! Redis's compact listpack encoding.
//!
//! User hash: `c` collection, `e` email (just `@domain` for the placeholder `temp-{id}@domain`), `n` name, `a` `1`/`0` anonymous, `t` created at,
//! `x` expires at (empty for registered users), `p` password hash. `n` is left out when it is
//! the id's default name and `p` when there is no password (older records hold them, `p`
//! empty: both read the same); an absent `x` reads as no expiry.
//! Session hash: `u` user id, `t` created at, `x` expires at.
//! Embedded session (a `s:SID` field of its user's hash, see [`keys`](super::keys)):
//! `{expires_at}:{created_at}`; the index field of a session with its own hash: `{expires_at}`.

use crate::store::{SessionRecord, StoreError, User, UserRecord};
use crate::util::email::{compact_email, full_email};
use crate::util::names::{is_name_for_id, name_for_id};
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

/// Field `a` of a registered user whose email is verified.
pub(crate) const VERIFIED: &str = "2";

/// Field `a`: `1` for an anonymous user, `0` for a registered one, [`VERIFIED`] for a
/// registered one that verified its email.
fn account_state(user: &User) -> &'static str {
    match (user.is_anonymous, user.email_verified) {
        (true, _) => "1",
        (false, false) => "0",
        (false, true) => VERIFIED,
    }
}

/// Field/value pairs for `HSET` of a user record, `None` for a field left at its default:
/// the name when it is the one the id gives ([`User::default_name`]) and the password hash
/// when there is none. [`decode_user`] reads an absent field as its default, so a guest's hash
/// holds what cannot be told from its id. "No expiry" is an empty value rather than an absent
/// field, so replacing a registered user's record clears no field it did not have.
pub(crate) fn encode_user(record: &UserRecord) -> [Option<(&'static str, FieldValue<'_>)>; 7] {
    let user = &record.user;
    [
        Some(("c", FieldValue::Text(&user.collection))),
        Some(("e", FieldValue::Text(compact_email(&user.id, &user.email)))),
        (!is_name_for_id(&user.id, &user.name)).then_some(("n", FieldValue::Text(&user.name))),
        Some(("a", FieldValue::Text(account_state(user)))),
        Some(("t", FieldValue::Number(user.created_at))),
        Some((
            "x",
            record
                .expires_at
                .map_or(FieldValue::Text(""), FieldValue::Number),
        )),
        record
            .password_hash
            .as_deref()
            .map(|hash| ("p", FieldValue::Text(hash))),
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

/// Decodes `HMGET key c e n a t x p`; `None` when the user does not exist. An absent `n` is
/// the id's default name, an absent or empty `x` no expiry, an absent or empty `p` no password.
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
    let (is_anonymous, email_verified) = match required(key, "a", a)?.as_str() {
        "1" => (true, false),
        "0" => (false, false),
        VERIFIED => (false, true),
        _ => return Err(StoreError::Corrupt(format!("{key}: field a is not 0/1/2"))),
    };
    let user = User {
        id: id.to_owned(),
        collection,
        email: full_email(id, required(key, "e", e)?),
        name: n.unwrap_or_else(|| name_for_id(id)),
        is_anonymous,
        email_verified,
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

    /// The pairs `encode_user` writes.
    fn written(record: &UserRecord) -> Vec<(&'static str, FieldValue<'_>)> {
        encode_user(record).into_iter().flatten().collect()
    }

    #[test]
    fn user_round_trips() {
        let record = UserRecord::new(User::anonymous("1", "users", "t@x.io", "N", 5))
            .with_expires_at(Some(9));
        let back = decode_user("k", "1", values(&written(&record), &USER_FIELDS)).unwrap();
        assert_eq!(back, Some(record.clone()));
        let member = UserRecord::new(User::registered("2", "u", "a@b", "A", 1))
            .with_password_hash(Some("$h".into()));
        let back = decode_user("k", "2", values(&written(&member), &USER_FIELDS)).unwrap();
        assert_eq!(back, Some(member.clone()));
        let mut without_optional = values(&written(&member), &USER_FIELDS);
        without_optional[5] = None;
        let back = decode_user("k", "2", without_optional).unwrap().unwrap();
        assert_eq!(back.expires_at, None, "an absent x reads as no expiry");
        assert_eq!(
            written(&member).len(),
            USER_FIELDS.len(),
            "a name of its own and a password are written"
        );
    }

    #[test]
    fn defaults_are_left_out_and_read_back() {
        let id = "tGR--gsIOeufGR598qEmWg";
        let email = format!("temp-{id}@anonymous.invalid");
        let guest = UserRecord::new(User::anonymous(id, "users", &email, name_for_id(id), 5))
            .with_expires_at(Some(9));
        let pairs = written(&guest);
        let fields: Vec<&str> = pairs.iter().map(|(field, _)| *field).collect();
        assert_eq!(
            fields,
            ["c", "e", "a", "t", "x"],
            "no default name, no password"
        );
        let back = decode_user("k", id, values(&pairs, &USER_FIELDS)).unwrap();
        assert_eq!(back, Some(guest.clone()));
        // As older records have them: the default name written out, an empty password.
        let mut older = values(&pairs, &USER_FIELDS);
        older[2] = Some(name_for_id(id));
        older[6] = Some(String::new());
        assert_eq!(decode_user("k", id, older).unwrap(), Some(guest.clone()));
        // Another id's default name is a name of its own.
        let mut named = guest.clone();
        named.user.name = name_for_id("someone else");
        assert_ne!(named.user.name, guest.user.name);
        let pairs = written(&named);
        assert!(pairs.iter().any(|(field, _)| *field == "n"));
        let back = decode_user("k", id, values(&pairs, &USER_FIELDS)).unwrap();
        assert_eq!(back, Some(named));
        // A registered user keeps a default name too, and an empty name is a name.
        let mut member = guest.clone();
        member.user.is_anonymous = false;
        member.expires_at = None;
        let back = decode_user("k", id, values(&written(&member), &USER_FIELDS)).unwrap();
        assert_eq!(back, Some(member.clone()));
        member.user.name = String::new();
        let back = decode_user("k", id, values(&written(&member), &USER_FIELDS)).unwrap();
        assert_eq!(back, Some(member));
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
