//! Token claims, the signing [`KeyRing`], and encoding / verification with `jsonwebtoken`.
//!
//! Tokens are compact JWS (JWT) strings. The algorithm is pinned by the key ring (HS256 by
//! default): a token whose header names another algorithm (including `none`) is rejected, as
//! is one without a `kid`, with an unknown `kid`, a bad signature, a wrong issuer, a past
//! `exp`, or a length over [`MAX_TOKEN_LEN`].

pub(crate) mod auth;
mod email_code_proof;
pub(crate) mod link_state;
pub(crate) mod token_cache;

use crate::error::ConfigError;
use crate::store::User;
use crate::util::email::into_compact_email;
use crate::util::ids::{session_id_of, FIRST_SESSION};
use crate::util::keyed_hmac::KeyedHmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest token accepted, in bytes. Longer input is rejected before any parsing.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Room for a typical token's claims as JSON (a guest's are about 330 bytes), so that
/// serializing them does not grow the buffer step by step.
const PAYLOAD_CAPACITY: usize = 384;

/// Shortest accepted secret, in bytes, for HS256; HS384 and HS512 need their hash size (48 and
/// 64 bytes, RFC 7518 section 3.2): see [`min_key_len`].
pub(crate) const MIN_KEY_LEN: usize = 32;

/// Shortest accepted secret for `algorithm`, in bytes: the size of its hash (RFC 7518 section
/// 3.2 asks for a key at least that long).
pub(crate) fn min_key_len(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => MIN_KEY_LEN,
    }
}

/// The claims carried by an auth token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(try_from = "WireClaims")]
#[non_exhaustive]
pub(crate) struct Claims {
    /// User id.
    pub(crate) sub: String,
    /// Session id; revoking the session revokes the token. In the token, a session id of the
    /// form `{sub}.{random}` travels as claim `sr` = `{random}` (its user is `sub`), and a
    /// guest's first session, `{sub}.0`, is left out, which keeps tokens short.
    pub(crate) sid: String,
    /// The user's collection (`users`, the default, is left out of the token).
    pub(crate) col: String,
    /// The user's email; for the placeholder `temp-{sub}@{domain}` of an anonymous user, only
    /// `@{domain}` (the rest is `sub`'s), which keeps tokens short; left out of the token for
    /// the default domain (`@anonymous.invalid`).
    pub(crate) email: String,
    /// The user's display name (left out of the token when it is the default name derived
    /// from `sub`, as for a guest named by default).
    pub(crate) name: String,
    /// Whether the user is anonymous (left out of the token when `true`: a token without it
    /// reads as anonymous, the side with fewer rights).
    pub(crate) anon: bool,
    /// Whether the user verified their email (left out of the token when `false`).
    pub(crate) ev: bool,
    /// User creation time (ms since the epoch); left out of the token when it is `iat` in ms,
    /// as for a guest minted for this token (whose creation time is a whole second).
    pub(crate) uca: u64,
    /// Issued at (seconds since the epoch).
    pub(crate) iat: u64,
    /// Expiry (seconds since the epoch).
    pub(crate) exp: u64,
    /// Issuer.
    pub(crate) iss: String,
    /// Lazy: the user and session exist only in this token, not yet in the store.
    pub(crate) lz: bool,
}

/// The collection a token leaves out.
const DEFAULT_COLLECTION: &str = "users";

/// The compact placeholder email a token leaves out: `@` and the default domain.
const DEFAULT_COMPACT_EMAIL: &str = crate::util::email::DEFAULT_COMPACT_PLACEHOLDER;

/// The creation time a token leaves out: its `iat` in ms (`None` past `u64`).
fn implied_uca(iat: u64) -> Option<u64> {
    iat.checked_mul(1000)
}

impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut claims = serializer.serialize_struct("Claims", 12)?;
        claims.serialize_field("sub", &self.sub)?;
        match self
            .sid
            .strip_prefix(self.sub.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
        {
            Some(FIRST_SESSION) => {}
            Some(random) => claims.serialize_field("sr", random)?,
            None => claims.serialize_field("sid", &self.sid)?,
        }
        if self.col != DEFAULT_COLLECTION {
            claims.serialize_field("col", &self.col)?;
        }
        if self.email != DEFAULT_COMPACT_EMAIL {
            claims.serialize_field("email", &self.email)?;
        }
        if !crate::util::names::is_name_for_id(&self.sub, &self.name) {
            claims.serialize_field("name", &self.name)?;
        }
        if !self.anon {
            claims.serialize_field("anon", &self.anon)?;
        }
        if self.ev {
            claims.serialize_field("ev", &self.ev)?;
        }
        if implied_uca(self.iat) != Some(self.uca) {
            claims.serialize_field("uca", &self.uca)?;
        }
        claims.serialize_field("iat", &self.iat)?;
        claims.serialize_field("exp", &self.exp)?;
        claims.serialize_field("iss", &self.iss)?;
        if self.lz {
            claims.serialize_field("lz", &self.lz)?;
        }
        claims.end()
    }
}

/// [`Claims`] as a token carries them: `sr` = `{random}` instead of `sid` = `{sub}.{random}`,
/// neither for `{sub}.0`; `col` left out for `users`, `email` for `@anonymous.invalid`, `name`
/// for the name derived from `sub`, `anon` for `true`, `ev` for `false`, `uca` when it is `iat` in ms, `lz` for
/// `false`.
#[derive(Deserialize)]
struct WireClaims {
    sub: String,
    sid: Option<String>,
    sr: Option<String>,
    #[serde(default = "default_collection")]
    col: String,
    #[serde(default = "default_email")]
    email: String,
    name: Option<String>,
    #[serde(default = "default_anon")]
    anon: bool,
    #[serde(default)]
    ev: bool,
    uca: Option<u64>,
    iat: u64,
    exp: u64,
    iss: String,
    #[serde(default)]
    lz: bool,
}

fn default_collection() -> String {
    DEFAULT_COLLECTION.to_owned()
}

fn default_email() -> String {
    DEFAULT_COMPACT_EMAIL.to_owned()
}

fn default_anon() -> bool {
    true
}

impl TryFrom<WireClaims> for Claims {
    type Error = &'static str;

    fn try_from(wire: WireClaims) -> Result<Self, Self::Error> {
        let sid = match (wire.sid, wire.sr) {
            (Some(sid), None) => sid,
            // No session named: the guest's first one.
            (None, part) => session_id_of(&wire.sub, part.as_deref().unwrap_or(FIRST_SESSION)),
            (Some(_), Some(_)) => {
                return Err("a token names its session by sid or by sr, not both")
            }
        };
        let name = wire
            .name
            .unwrap_or_else(|| crate::util::names::name_for_id(&wire.sub));
        Ok(Self {
            sub: wire.sub,
            sid,
            col: wire.col,
            email: wire.email,
            name,
            anon: wire.anon,
            ev: wire.ev,
            uca: match wire.uca {
                Some(uca) => uca,
                None => {
                    implied_uca(wire.iat).ok_or("a token without uca has an iat past u64 ms")?
                }
            },
            iat: wire.iat,
            exp: wire.exp,
            iss: wire.iss,
            lz: wire.lz,
        })
    }
}

impl Claims {
    /// The claims of a token for `user`'s session `session_id`, issued at `iat` and expiring
    /// at `exp` (seconds since the epoch); `lazy` for a guest not stored yet.
    pub(crate) fn for_user(user: &User, session_id: &str, iat: u64, exp: u64, lazy: bool) -> Self {
        Self::from_user(user.clone(), session_id.to_owned(), iat, exp, lazy)
    }

    /// [`Claims::for_user`], taking the user and session id (their strings move, none is
    /// copied; the placeholder email is shortened in place).
    pub(crate) fn from_user(user: User, sid: String, iat: u64, exp: u64, lazy: bool) -> Self {
        let email = into_compact_email(&user.id, user.email);
        Self {
            sub: user.id,
            sid,
            col: user.collection,
            email,
            name: user.name,
            anon: user.is_anonymous,
            ev: user.email_verified,
            uca: user.created_at,
            iat,
            exp,
            iss: ISSUER.to_owned(),
            lz: lazy,
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token too large")]
    TooLarge,
    /// Not a well-formed token (bad base64, JSON, missing claims, no `kid`).
    #[error("malformed token")]
    Malformed,
    /// The `kid` names no key of the ring.
    #[error("unknown signing key")]
    UnknownKey,
    /// Bad signature, wrong algorithm, or wrong issuer.
    #[error("invalid token signature or algorithm")]
    Invalid,
    /// Past its `exp`.
    #[error("token expired")]
    Expired,
    /// Signing failed (should not happen with valid keys).
    #[error("token signing failed")]
    Signing,
}

/// Signing keys with ids (`kid`), newest last: the newest signs, every key verifies.
///
/// Rotate by adding a new key with a new id and keeping the old one until every token it signed
/// has expired; then drop it.
#[derive(Clone)]
pub(crate) struct KeyRing {
    algorithm: Algorithm,
    keys: Vec<RingKey>,
    validation: Validation,
}

#[derive(Clone)]
struct RingKey {
    /// The encoded JWS header this key signs with (constant per key, so encoded once).
    header: String,
    kid: String,
    /// Signs (keyed once).
    mac: KeyedHmac,
    decoding: DecodingKey,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("algorithm", &self.algorithm)
            .field(
                "kids",
                &self.keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The issuer every token carries and must carry.
pub(crate) const ISSUER: &str = "tower-anonymous-auth";

impl KeyRing {
    /// An HS256 ring from `(kid, secret)` pairs, oldest first.
    #[cfg(test)]
    pub(crate) fn hs256<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, ConfigError> {
        Self::hmac(Algorithm::HS256, keys)
    }

    /// A ring for an HMAC algorithm (`HS256`, `HS384` or `HS512`) from `(kid, secret)` pairs.
    pub(crate) fn hmac<'a>(
        algorithm: Algorithm,
        keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, ConfigError> {
        if !matches!(
            algorithm,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(ConfigError::OutOfRange("algorithm (HS256, HS384 or HS512)"));
        }
        let mut ring = Vec::new();
        for (kid, secret) in keys {
            if kid.is_empty()
                || kid.len() > 64
                || !kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(ConfigError::InvalidKid(kid.to_owned()));
            }
            let min = min_key_len(algorithm);
            if secret.len() < min {
                return Err(ConfigError::KeyTooShort {
                    kid: kid.to_owned(),
                    len: secret.len(),
                    min,
                });
            }
            if ring.iter().any(|k: &RingKey| k.kid == kid) {
                return Err(ConfigError::DuplicateKid(kid.to_owned()));
            }
            let mut header = Header::new(algorithm);
            header.kid = Some(kid.to_owned());
            // `typ` is optional (RFC 7519 5.1) and says nothing a verifier checks.
            header.typ = None;
            // Strings and enums only: serializing a header cannot fail.
            let header = serde_json::to_vec(&header).expect("a JWS header serializes");
            ring.push(RingKey {
                header: URL_SAFE_NO_PAD.encode(header),
                kid: kid.to_owned(),
                mac: KeyedHmac::new(algorithm, secret)
                    .ok_or(ConfigError::OutOfRange("algorithm (HS256, HS384 or HS512)"))?,
                decoding: DecodingKey::from_secret(secret),
            });
        }
        if ring.is_empty() {
            return Err(ConfigError::NoSigningKey);
        }
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        Ok(Self {
            algorithm,
            keys: ring,
            validation,
        })
    }

    /// The pinned algorithm.
    #[cfg(test)]
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The id of the key that signs new tokens (the newest).
    #[cfg(test)]
    pub(crate) fn signing_kid(&self) -> &str {
        self.signing_key().kid.as_str()
    }

    fn signing_key(&self) -> &RingKey {
        // `hmac` refuses to build an empty ring.
        &self.keys[self.keys.len() - 1]
    }

    /// Signs claims with the newest key.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        // What `jsonwebtoken::encode` does (a unit test checks the tokens are the same), with
        // the key's header encoded and its HMAC keyed once instead of on every call.
        let key = self.signing_key();
        let mut payload = Vec::with_capacity(PAYLOAD_CAPACITY);
        serde_json::to_writer(&mut payload, claims).map_err(|_| TokenError::Signing)?;
        let mut token = String::with_capacity(key.header.len() + payload.len() * 4 / 3 + 92);
        token.push_str(&key.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        key.mac.sign_appending(&mut token);
        Ok(token)
    }

    /// Verifies a token (signature, pinned algorithm, `kid`, issuer, `exp` with no leeway) and
    /// returns its claims.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge);
        }
        let key = match self.keys.as_slice() {
            // One key: nothing to choose, so the header is parsed once, by `decode`, which
            // checks its algorithm against the pinned one; its `kid` is checked below.
            [only] => only,
            keys => {
                let header =
                    jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
                if header.alg != self.algorithm {
                    return Err(TokenError::Invalid);
                }
                let kid = header.kid.ok_or(TokenError::Malformed)?;
                keys.iter()
                    .find(|k| k.kid == kid)
                    .ok_or(TokenError::UnknownKey)?
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).map_err(
            |err| {
                use jsonwebtoken::errors::ErrorKind;
                match err.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidIssuer => TokenError::Invalid,
                    _ => TokenError::Malformed,
                }
            },
        )?;
        match data.header.kid {
            Some(kid) if kid == key.kid => Ok(data.claims),
            Some(_) => Err(TokenError::UnknownKey),
            None => Err(TokenError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::EncodingKey;
    use proptest::prelude::*;

    fn ring() -> KeyRing {
        KeyRing::hs256([("k1", &[9u8; 32][..])]).unwrap()
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "user".into(),
            sid: "session".into(),
            exp,
            iss: ISSUER.into(),
            ..Claims::default()
        }
    }

    fn far_future() -> u64 {
        crate::util::clock::now_millis() / 1000 + 3600
    }

    #[test]
    fn signs_exactly_what_jsonwebtoken_encode_signs() {
        let ring = KeyRing::hs256([("old", &[1u8; 32][..]), ("new", &[2u8; 32][..])]).unwrap();
        let claims = claims(far_future());
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("new".into());
        header.typ = None;
        let expected =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[2u8; 32])).unwrap();
        assert_eq!(ring.sign(&claims).unwrap(), expected);
    }

    fn payload_json(token: &str) -> serde_json::Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn tokens_leave_out_what_the_claims_imply() {
        let mut claims = claims(far_future());
        claims.sub = "u1".into();
        claims.sid = "u1.r4nd0m".into();
        claims.col = "users".into();
        claims.lz = false;
        let token = ring().sign(&claims).unwrap();
        let json = payload_json(&token);
        assert_eq!(json["sr"], "r4nd0m", "the session names its user");
        assert!(json.get("sid").is_none(), "{json}");
        assert!(
            json.get("col").is_none() && json.get("lz").is_none(),
            "{json}"
        );
        assert_eq!(ring().verify(&token).unwrap(), claims);

        // Anything else travels as is.
        for (sid, col, lz) in [
            ("u1x.r", "customers", true),
            ("other.r", "users", true),
            ("u1", "u", false),
            (".r", "users", false),
            ("u1.", "users", false),
            ("u1..r", "users", false),
            ("", "", false),
        ] {
            claims.sid = sid.into();
            claims.col = col.into();
            claims.lz = lz;
            let token = ring().sign(&claims).unwrap();
            assert_eq!(ring().verify(&token).unwrap(), claims, "{sid} {col} {lz}");
        }
        claims.sub = String::new();
        claims.sid = ".r".into();
        let token = ring().sign(&claims).unwrap();
        assert_eq!(ring().verify(&token).unwrap(), claims, "empty sub");
    }

    #[test]
    fn guest_defaults_are_left_out_and_read_back() {
        let mut claims = claims(far_future());
        let iat = 1_796_198_590;
        claims.sub = crate::util::ids::new_id();
        claims.sid = crate::util::ids::first_session_id(&claims.sub);
        claims.name = crate::util::names::name_for_id(&claims.sub);
        claims.col = DEFAULT_COLLECTION.into();
        claims.iat = iat;
        claims.uca = iat * 1000;
        claims.email = DEFAULT_COMPACT_EMAIL.into();
        claims.anon = true;
        let token = ring().sign(&claims).unwrap();
        let json = payload_json(&token);
        for left_out in ["sid", "sr", "name", "email", "anon", "uca"] {
            assert!(json.get(left_out).is_none(), "{left_out}: {json}");
        }
        assert_eq!(ring().verify(&token).unwrap(), claims);
        assert!(token.len() <= 210, "{} characters: {token}", token.len());

        // Another session, or another name, travels.
        let first = claims.clone();
        for (sid, name) in [
            (format!("{}.1", claims.sub), first.name.clone()),
            (format!("{}.00", claims.sub), first.name.clone()),
            (format!("{}.0", claims.sub), format!("{} ", first.name)),
            (
                format!("{}.0", claims.sub),
                crate::util::names::name_for_id("other"),
            ),
            (format!("{}.0", claims.sub), String::new()),
        ] {
            claims.sid = sid;
            claims.name = name;
            let token = ring().sign(&claims).unwrap();
            assert_eq!(ring().verify(&token).unwrap(), claims, "{claims:?}");
        }
        claims = first;
        assert_eq!(
            DEFAULT_COMPACT_EMAIL,
            format!("@{}", crate::util::email::DEFAULT_PLACEHOLDER_DOMAIN)
        );

        // Anything else travels as is.
        for (email, anon, uca, iat) in [
            ("@example.com", true, iat * 1000, iat),
            ("a@b.io", false, iat * 1000, iat),
            (DEFAULT_COMPACT_EMAIL, false, iat * 1000 + 1, iat),
            ("@anonymous.invalid.", true, iat * 1000 - 1000, iat),
            ("", true, 0, 0),
            ("", true, 7, u64::MAX),
        ] {
            claims.email = email.into();
            claims.anon = anon;
            claims.uca = uca;
            claims.iat = iat;
            let token = ring().sign(&claims).unwrap();
            assert_eq!(
                ring().verify(&token).unwrap(),
                claims,
                "{email} {anon} {uca} {iat}"
            );
        }
    }

    #[test]
    fn tokens_in_the_full_form_still_verify() {
        // What earlier builds signed: `typ` in the header, full `sid`, `col` always.
        let mut claims = claims(far_future());
        claims.sub = "u1".into();
        claims.sid = "u1.r".into();
        claims.col = "users".into();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let full = serde_json::json!({
            "sub": "u1", "sid": "u1.r", "col": "users", "email": claims.email, "name": claims.name,
            "anon": claims.anon, "uca": claims.uca, "iat": claims.iat, "exp": claims.exp,
            "iss": claims.iss,
        });
        let key = EncodingKey::from_secret(&[9u8; 32]);
        let token = jsonwebtoken::encode(&header, &full, &key).unwrap();
        assert_eq!(ring().verify(&token).unwrap(), claims);

        // A session named twice is malformed; named not at all, it is the first one.
        let mut both = full.clone();
        both["sr"] = "r".into();
        let token = jsonwebtoken::encode(&header, &both, &key).unwrap();
        assert_eq!(ring().verify(&token), Err(TokenError::Malformed));
        let mut neither = full;
        neither.as_object_mut().unwrap().remove("sid");
        let token = jsonwebtoken::encode(&header, &neither, &key).unwrap();
        assert_eq!(ring().verify(&token).unwrap().sid, "u1.0");
    }

    #[test]
    fn round_trip() {
        let token = ring().sign(&claims(far_future())).unwrap();
        assert_eq!(ring().verify(&token).unwrap().sid, "session");
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let token = ring().sign(&claims(1)).unwrap();
        assert_eq!(ring().verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn alg_none_is_rejected() {
        use base64::Engine;
        let encode = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let header = encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
        let body = encode(
            serde_json::to_string(&claims(far_future()))
                .unwrap()
                .as_bytes(),
        );
        for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert!(ring().verify(&token).is_err(), "{token}");
        }
    }

    #[test]
    fn other_key_and_other_algorithm_are_rejected() {
        let other = KeyRing::hs256([("k1", &[8u8; 32][..])]).unwrap();
        let token = other.sign(&claims(far_future())).unwrap();
        assert_eq!(ring().verify(&token), Err(TokenError::Invalid));
        let hs512 = KeyRing::hmac(Algorithm::HS512, [("k1", &[9u8; 64][..])]).unwrap();
        let token = hs512.sign(&claims(far_future())).unwrap();
        assert_eq!(ring().verify(&token), Err(TokenError::Invalid));
        let unknown = KeyRing::hs256([("k2", &[9u8; 32][..])]).unwrap();
        let token = unknown.sign(&claims(far_future())).unwrap();
        assert_eq!(ring().verify(&token), Err(TokenError::UnknownKey));
    }

    #[test]
    fn hs384_and_hs512_keys_must_be_as_long_as_their_hash() {
        for (algorithm, min) in [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ] {
            let short = vec![7u8; min - 1];
            let err = KeyRing::hmac(algorithm, [("k", &short[..])]).unwrap_err();
            assert!(
                err == ConfigError::KeyTooShort {
                    kid: "k".into(),
                    len: min - 1,
                    min
                },
                "{algorithm:?}: {err:?}"
            );
            let long_enough = vec![7u8; min];
            assert!(KeyRing::hmac(algorithm, [("k", &long_enough[..])]).is_ok());
        }
    }

    #[test]
    fn wrong_issuer_is_rejected() {
        let mut c = claims(far_future());
        c.iss = "someone-else".into();
        let token = ring().sign(&c).unwrap();
        assert_eq!(ring().verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn truncated_and_oversized_tokens_are_rejected() {
        let token = ring().sign(&claims(far_future())).unwrap();
        for cut in 0..token.len() {
            assert!(ring().verify(&token[..cut]).is_err());
        }
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(ring().verify(&huge), Err(TokenError::TooLarge));
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let token = ring().sign(&claims(far_future())).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims(far_future());
        forged.sub = "admin".into();
        use base64::Engine;
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_string(&forged).unwrap().as_bytes());
        assert_eq!(ring().verify(&parts.join(".")), Err(TokenError::Invalid));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn random_input_never_verifies_or_panics(input in ".{0,600}") {
            prop_assert!(ring().verify(&input).is_err());
        }

        #[test]
        fn random_jwt_shaped_input_never_verifies(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,60}") {
            let input = format!("{a}.{b}.{c}");
            prop_assert!(ring().verify(&input).is_err());
        }
    }
}
