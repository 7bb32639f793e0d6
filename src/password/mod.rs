//! Password rules and argon2id hashing, run off the async executor in a fair, bounded queue
//! ([`HashQueue`]).
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`) made by the `argon2` crate
//! with the OWASP parameters; verification reads the parameters from the stored string, so
//! hashes made with other parameters keep verifying.

pub(crate) mod hash_queue;

use crate::error::AuthError;
use crate::password::hash_queue::HashQueue;
use crate::util::ids::new_id;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use std::net::IpAddr;
use std::sync::LazyLock;
use tokio::sync::OnceCell;

/// OWASP password storage cheat sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Default minimum password length, in characters.
pub(crate) const DEFAULT_MIN_LEN: usize = 8;
/// Default maximum password length, in characters.
pub(crate) const DEFAULT_MAX_LEN: usize = 128;

/// Checks a new password's length (in characters, not bytes) against `min..=max`.
pub(crate) fn check_length(password: &str, min: usize, max: usize) -> Result<(), AuthError> {
    let len = password.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(AuthError::WeakPassword { min, max })
    }
}

fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|err| AuthError::Internal(format!("argon2 parameters: {err}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The process-wide queue: half the cores hash at once (each computation takes about
/// 19 MiB and a core for tens of milliseconds, so cheap requests keep running), and up to 32
/// checks per worker hold a place.
static QUEUE: LazyLock<HashQueue> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = (cores / 2).max(1);
    HashQueue::new(workers, 32 * workers)
});

/// Hashes `password` with argon2id and a random salt, in the [`HashQueue`] as `client`;
/// returns the PHC string.
pub(crate) async fn hash(password: String, client: Option<IpAddr>) -> Result<String, AuthError> {
    QUEUE
        .run(client, move || {
            let hash = hasher()?
                .hash_password(password.as_bytes())
                .map_err(|err| AuthError::Internal(format!("password hashing failed: {err}")))?;
            Ok(hash.to_string())
        })
        .await
}

/// Whether `password` matches the PHC string `phc`, checked in the [`HashQueue`] as
/// `client`. A stored hash that cannot be parsed never matches (and is logged).
pub(crate) async fn verify(
    password: String,
    phc: String,
    client: Option<IpAddr>,
) -> Result<bool, AuthError> {
    QUEUE.run(client, move || {
        match hasher()?.verify_password(password.as_bytes(), phc.as_str()) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(err) => {
                tracing::warn!(%err, "stored password hash cannot be verified; treating as mismatch");
                Ok(false)
            }
        }
    })
    .await
}

static DUMMY_HASH: OnceCell<String> = OnceCell::const_new();

async fn dummy_hash() -> Result<&'static String, AuthError> {
    DUMMY_HASH
        // The password is a fresh random id (128 bits): nobody can know it.
        .get_or_try_init(|| hash(new_id(), None))
        .await
}

/// Computes the dummy hash in the background when called inside a Tokio runtime, so that the
/// first unknown-email sign-in does not pay for it (and stand out by its time).
pub(crate) fn warm_dummy() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async {
            if let Err(err) = dummy_hash().await {
                tracing::warn!(%err, "could not precompute the dummy password hash");
            }
        });
    }
}

/// Burns the same time as a real verification, for an email with no password to check, so
/// that "unknown email" and "wrong password" cannot be told apart by timing. The dummy hash
/// (of a random password, same parameters) is computed once per process, ahead of time when
/// [`warm_dummy`] ran.
pub(crate) async fn verify_dummy(
    password: String,
    client: Option<IpAddr>,
) -> Result<(), AuthError> {
    let dummy = dummy_hash().await?;
    verify(password, dummy.clone(), client).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_count_characters() {
        assert!(check_length("12345678", 8, 128).is_ok());
        assert_eq!(
            check_length("1234567", 8, 128),
            Err(AuthError::WeakPassword { min: 8, max: 128 })
        );
        assert!(check_length(&"x".repeat(128), 8, 128).is_ok());
        assert!(check_length(&"x".repeat(129), 8, 128).is_err());
        // Eight characters, more than eight bytes.
        assert!(check_length("éééééééé", 8, 8).is_ok());
    }

    #[tokio::test]
    async fn hash_and_verify_round_trip() {
        let phc = hash("correct horse".into(), None).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse".into(), phc.clone(), None)
            .await
            .unwrap());
        assert!(!verify("wrong horse".into(), phc.clone(), None)
            .await
            .unwrap());
        let again = hash("correct horse".into(), None).await.unwrap();
        assert_ne!(phc, again, "salts must differ");
    }

    #[tokio::test]
    async fn garbage_hash_never_matches() {
        assert!(!verify("x".into(), "not a phc string".into(), None)
            .await
            .unwrap());
        assert!(!verify("x".into(), String::new(), None).await.unwrap());
        verify_dummy("anything".into(), None).await.unwrap();
    }
}
