//! Link states: a short-lived, signed value naming a guest and its session, which the app
//! carries through an OAuth `state` (or any round trip) so that a callback that arrives
//! without the guest's cookie still links the right guest.
//!
//! Format: `{kid}.{payload}.{mac}`, the payload `{guest id}\n{session id}\n{exp}\n{nonce}` in
//! base64url, the MAC keyed by the layer's signing key behind its own domain label. It is not
//! a JWT: its first part is no JWS header, so it can never be used as an auth token.

use super::{KeyRing, TokenError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The MAC's domain label.
const PURPOSE: &str = "tower-anonymous-auth link-state v1";
/// Longer states are refused before any decoding.
pub(crate) const MAX_LINK_STATE_LEN: usize = 1024;

/// What a link state names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkState {
    pub(crate) guest_id: String,
    pub(crate) session_id: String,
    /// Expiry, in seconds since the epoch.
    pub(crate) exp: u64,
    /// Random: names this state, so it can be used once.
    pub(crate) nonce: String,
}

impl KeyRing {
    /// Signs `state` with the newest key.
    pub(crate) fn sign_link_state(&self, state: &LinkState) -> String {
        let key = self.signing_key();
        let payload = format!(
            "{}\n{}\n{}\n{}",
            state.guest_id, state.session_id, state.exp, state.nonce
        );
        let mut out = format!("{}.{}", key.kid, URL_SAFE_NO_PAD.encode(payload));
        let tag = key.mac.tag(PURPOSE, out.as_bytes());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut out);
        out
    }

    /// The link state `value` names, when its MAC is good and it has not expired at
    /// `now_secs`.
    pub(crate) fn verify_link_state(
        &self,
        value: &str,
        now_secs: u64,
    ) -> Result<LinkState, TokenError> {
        if value.len() > MAX_LINK_STATE_LEN {
            return Err(TokenError::TooLarge);
        }
        let (signed, tag) = value.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (kid, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.kid == kid)
            .ok_or(TokenError::UnknownKey)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        if !key.mac.verify_tag(PURPOSE, signed.as_bytes(), &tag) {
            return Err(TokenError::Invalid);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
        let mut parts = payload.split('\n');
        let (Some(guest_id), Some(session_id), Some(exp), Some(nonce), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let exp: u64 = exp.parse().map_err(|_| TokenError::Malformed)?;
        if exp <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(LinkState {
            guest_id: guest_id.to_owned(),
            session_id: session_id.to_owned(),
            exp,
            nonce: nonce.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Claims;
    use proptest::prelude::*;

    fn ring(kid: &str) -> KeyRing {
        KeyRing::hs256([(kid, &[7u8; 32][..])]).unwrap()
    }

    fn state() -> LinkState {
        LinkState {
            guest_id: "g1".into(),
            session_id: "g1.abc".into(),
            exp: 2_000,
            nonce: "n0nce".into(),
        }
    }

    #[test]
    fn a_state_reads_back_until_it_expires() {
        let ring = ring("k1");
        let value = ring.sign_link_state(&state());
        assert_eq!(ring.verify_link_state(&value, 1_999), Ok(state()));
        assert_eq!(
            ring.verify_link_state(&value, 2_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_changed_or_foreign_state_is_refused() {
        let ring = ring("k1");
        let value = ring.sign_link_state(&state());
        let other = KeyRing::hs256([("k1", &[8u8; 32][..])]).unwrap();
        assert_eq!(other.verify_link_state(&value, 0), Err(TokenError::Invalid));
        let (kid, rest) = value.split_once('.').unwrap();
        let (_, tag) = rest.rsplit_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode("g2\ng2.abc\n2000\nn0nce");
        let forged = format!("{kid}.{forged_payload}.{tag}");
        assert_eq!(ring.verify_link_state(&forged, 0), Err(TokenError::Invalid));
        let rotated = KeyRing::hs256([("k2", &[7u8; 32][..])]).unwrap();
        assert_eq!(
            rotated.verify_link_state(&value, 0),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn a_state_is_no_auth_token_and_a_token_no_state() {
        let ring = ring("k1");
        let value = ring.sign_link_state(&state());
        assert!(
            ring.verify(&value).is_err(),
            "a state never verifies as a token"
        );
        let user = crate::store::User::anonymous("g1", "users", "e@x.io", "G", 0);
        let token = ring
            .sign(&Claims::for_user(
                &user,
                "g1.abc",
                0,
                u64::MAX / 2000,
                false,
            ))
            .unwrap();
        assert!(
            ring.verify_link_state(&token, 0).is_err(),
            "a token never verifies as a state"
        );
    }

    proptest! {
        /// Any value is refused or read without panicking.
        #[test]
        fn any_value_is_read_without_panicking(value in "\\PC{0,200}", dots in "[a-z.]{0,20}") {
            let ring = ring("k1");
            let _ = ring.verify_link_state(&value, 0);
            let _ = ring.verify_link_state(&format!("k1.{dots}.{value}"), 0);
        }
    }
}
