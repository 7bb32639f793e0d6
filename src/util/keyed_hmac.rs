//! The HMAC of a signing key, keyed once: each signature clones the keyed state, where
//! `jsonwebtoken::crypto::sign` derives it from the secret again (two extra hash blocks and a
//! boxed signer per token) and returns the signature through two more allocations.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::Algorithm;
use sha2::{Sha256, Sha384, Sha512};

/// A keyed HMAC state for one of the JWS HMAC algorithms.
#[derive(Clone)]
pub(crate) enum KeyedHmac {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
}

impl KeyedHmac {
    /// The keyed state of `secret` for `algorithm`; `None` for a non-HMAC algorithm.
    pub(crate) fn new(algorithm: Algorithm, secret: &[u8]) -> Option<Self> {
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        Some(match algorithm {
            Algorithm::HS256 => Self::Hs256(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS384 => Self::Hs384(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS512 => Self::Hs512(Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// Appends the JWS signature of `out` (its whole content is the signing input) to `out`:
    /// a `.` and the MAC in base64url without padding.
    pub(crate) fn sign_appending(&self, out: &mut String) {
        fn append(mac: impl Mac + Clone, out: &mut String) {
            let tag = mac.chain_update(out.as_bytes()).finalize().into_bytes();
            out.push('.');
            URL_SAFE_NO_PAD.encode_string(tag, out);
        }
        match self {
            Self::Hs256(mac) => append(mac.clone(), out),
            Self::Hs384(mac) => append(mac.clone(), out),
            Self::Hs512(mac) => append(mac.clone(), out),
        }
    }
}

impl KeyedHmac {
    /// The MAC of `input`, behind the domain label `purpose` (so that a MAC made for one
    /// purpose is never valid for another, nor as a JWS signature: the label holds a NUL,
    /// which no JWS signing input does).
    pub(crate) fn tag(&self, purpose: &str, input: &[u8]) -> Vec<u8> {
        fn tag(mac: impl Mac + Clone, purpose: &str, input: &[u8]) -> Vec<u8> {
            let mac = mac.chain_update(purpose.as_bytes()).chain_update([0]);
            mac.chain_update(input).finalize().into_bytes().to_vec()
        }
        match self {
            Self::Hs256(mac) => tag(mac.clone(), purpose, input),
            Self::Hs384(mac) => tag(mac.clone(), purpose, input),
            Self::Hs512(mac) => tag(mac.clone(), purpose, input),
        }
    }

    /// Whether `expected` is the [`tag`](Self::tag) of `input`, compared in constant time.
    pub(crate) fn verify_tag(&self, purpose: &str, input: &[u8], expected: &[u8]) -> bool {
        fn verify(mac: impl Mac + Clone, purpose: &str, input: &[u8], expected: &[u8]) -> bool {
            let mac = mac.chain_update(purpose.as_bytes()).chain_update([0]);
            mac.chain_update(input).verify_slice(expected).is_ok()
        }
        match self {
            Self::Hs256(mac) => verify(mac.clone(), purpose, input, expected),
            Self::Hs384(mac) => verify(mac.clone(), purpose, input, expected),
            Self::Hs512(mac) => verify(mac.clone(), purpose, input, expected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_jsonwebtoken() {
        let secret = [9u8; 48];
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mac = KeyedHmac::new(algorithm, &secret).unwrap();
            let key = jsonwebtoken::EncodingKey::from_secret(&secret);
            for input in ["", "a", "header.payload", &"x".repeat(1000)] {
                let mut signed = input.to_owned();
                mac.sign_appending(&mut signed);
                let expected =
                    jsonwebtoken::crypto::sign(input.as_bytes(), &key, algorithm).unwrap();
                assert_eq!(signed, format!("{input}.{expected}"), "{algorithm:?}");
            }
        }
    }

    #[test]
    fn only_hmac_algorithms() {
        assert!(KeyedHmac::new(Algorithm::RS256, &[1u8; 32]).is_none());
        assert!(KeyedHmac::new(Algorithm::EdDSA, &[1u8; 32]).is_none());
    }
}
