//! Keyed digests for one-time email codes: the store key that names an address's code, and
//! the proofs the store compares. Keyed by the layer's signing key, so a copy of the store
//! neither lists the addresses that asked for codes nor lets anyone test guesses offline
//! (six digits are a million guesses, but only with the key).

use super::KeyRing;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The MAC's domain label.
const PURPOSE: &str = "tower-anonymous-auth email-code v1";
/// Bytes of the MAC kept: 192 bits, 32 characters.
const DIGEST_LEN: usize = 24;

impl KeyRing {
    /// A digest of `parts` (each length-prefixed, so no two lists give one input) with the
    /// newest key. A key rotation makes codes asked for before it fail, like any code that
    /// expired: the person asks for a new one.
    pub(crate) fn email_code_digest(&self, parts: &[&str]) -> String {
        let mut input = String::new();
        for part in parts {
            input.push_str(&part.len().to_string());
            input.push(':');
            input.push_str(part);
        }
        let tag = self.signing_key().mac.tag(PURPOSE, input.as_bytes());
        URL_SAFE_NO_PAD.encode(&tag[..DIGEST_LEN.min(tag.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_every_part_and_the_key() {
        let ring = KeyRing::hs256([("k", &[1u8; 32][..])]).unwrap();
        let other = KeyRing::hs256([("k", &[2u8; 32][..])]).unwrap();
        let digest = ring.email_code_digest(&["key", "users", "ann@example.com"]);
        assert_eq!(digest.len(), 32);
        assert_eq!(
            digest,
            ring.email_code_digest(&["key", "users", "ann@example.com"])
        );
        assert_ne!(
            digest,
            ring.email_code_digest(&["key", "users", "bob@example.com"])
        );
        assert_ne!(
            ring.email_code_digest(&["ab", "c"]),
            ring.email_code_digest(&["a", "bc"])
        );
        assert_ne!(
            digest,
            other.email_code_digest(&["key", "users", "ann@example.com"])
        );
    }
}
