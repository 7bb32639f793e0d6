//! [`EmailCodeStore`]: one-time email codes (sign-in codes and magic links) until they are
//! used, expire or are guessed at too often.

use super::{EmailCodeCheck, EmailCodeRecord, StoreError};
use async_trait::async_trait;

/// One-time email codes, at most one live code per key.
///
/// The layer names each code by an opaque `key` (a keyed hash of the collection and the
/// address, so the store never holds a lookup table from emails to codes) and gives the store
/// only keyed hashes of the code and the link secret. A store compares proofs and counts
/// tries; it must do both atomically, since an attacker sends guesses in parallel: of two
/// concurrent tries with the right proof only one is [`EmailCodeCheck::Accepted`], and no
/// number of concurrent wrong tries gets more than
/// [`EmailCodeRecord::ATTEMPTS`](super::EmailCodeRecord::ATTEMPTS) comparisons.
///
/// ```
/// use tower_anonymous_auth::store::{EmailCodeCheck, EmailCodeRecord, EmailCodeStore};
/// use tower_anonymous_auth::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let code = EmailCodeRecord::new("ann@example.com", "code-proof", "link-proof", 600_000);
/// store.put_email_code("key", &code, 0).await.unwrap();
/// let wrong = store.try_email_code("key", "guess", 0).await.unwrap();
/// assert_eq!(wrong, EmailCodeCheck::Wrong { attempts_left: 4 });
/// let right = store.try_email_code("key", "code-proof", 0).await.unwrap();
/// assert!(matches!(right, EmailCodeCheck::Accepted(_)));
/// let again = store.try_email_code("key", "code-proof", 0).await.unwrap();
/// assert_eq!(again, EmailCodeCheck::Missing, "single use");
/// # });
/// ```
#[async_trait]
pub trait EmailCodeStore: Send + Sync + 'static {
    /// Stores `code` under `key`, replacing any code stored there (a new code makes the
    /// previous one useless). It lives until `code.expires_at`; `now` lets a store drop
    /// expired codes as it goes.
    async fn put_email_code(
        &self,
        key: &str,
        code: &EmailCodeRecord,
        now: u64,
    ) -> Result<(), StoreError>;

    /// Tries `proof` against the live code under `key` at `now`, atomically: a match
    /// (`proof` equals the code's `code_proof` or `link_proof`) removes the code and returns
    /// it; a miss spends one try and removes the code when none is left.
    async fn try_email_code(
        &self,
        key: &str,
        proof: &str,
        now: u64,
    ) -> Result<EmailCodeCheck, StoreError>;
}

#[async_trait]
impl<S: EmailCodeStore + ?Sized> EmailCodeStore for std::sync::Arc<S> {
    async fn put_email_code(
        &self,
        key: &str,
        code: &EmailCodeRecord,
        now: u64,
    ) -> Result<(), StoreError> {
        (**self).put_email_code(key, code, now).await
    }

    async fn try_email_code(
        &self,
        key: &str,
        proof: &str,
        now: u64,
    ) -> Result<EmailCodeCheck, StoreError> {
        (**self).try_email_code(key, proof, now).await
    }
}
