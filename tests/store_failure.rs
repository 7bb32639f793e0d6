//! A store that fails: fail-closed answers 503 without calling the app, fail-open calls the
//! app without auth; both recover when the store does. Nothing panics, nothing 500s.

mod support;

use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use support::client::Client;
use tower_anonymous_auth::store::{ClaimOutcome, SessionRecord, TransferReport, UserRecord};
use tower_anonymous_auth::{
    MemoryStore, MintRateLimit, RateDecision, Store, StoreError, StoreFailureMode,
};

/// A MemoryStore with a switch that makes every call fail as if the backend were down.
#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore,
    down: AtomicBool,
    calls: AtomicUsize,
}

impl FlakyStore {
    fn check(&self) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("connection refused (test)".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FlakyStore {
    async fn insert_user(
        &self,
        user: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.insert_user(user, session, now).await
    }
    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError> {
        self.check()?;
        self.inner.get_user(id, now).await
    }
    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.check()?;
        self.inner.find_user_by_email(collection, email, now).await
    }
    async fn upgrade_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        self.check()?;
        self.inner
            .upgrade_user(id, email, name, password_hash, now)
            .await
    }
    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete_user(id).await
    }
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.check()?;
        self.inner.insert_session(session).await
    }
    async fn get_session(&self, id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        self.check()?;
        self.inner.get_session(id, now).await
    }
    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError> {
        self.check()?;
        self.inner.refresh(session_id, expires_at).await
    }
    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete_session(id).await
    }
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        self.check()?;
        self.inner.delete_user_sessions(user_id).await
    }
    async fn claim(&self, resource: &str, owner: &str) -> Result<ClaimOutcome, StoreError> {
        self.check()?;
        self.inner.claim(resource, owner).await
    }
    async fn release(&self, resource: &str, owner: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.release(resource, owner).await
    }
    async fn owner_of(&self, resource: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        self.inner.owner_of(resource).await
    }
    async fn resources_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        self.check()?;
        self.inner.resources_of(owner).await
    }
    async fn transfer(&self, from: &str, to: &str) -> Result<TransferReport, StoreError> {
        self.check()?;
        self.inner.transfer(from, to).await
    }
    async fn rate_limit(
        &self,
        key: &str,
        limit: MintRateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        self.check()?;
        self.inner.rate_limit(key, limit, now).await
    }
}

async fn start(mode: StoreFailureMode) -> (Client, Arc<FlakyStore>) {
    let store = Arc::new(FlakyStore::default());
    let config = support::apps::builder()
        .store_failure(mode)
        .build()
        .unwrap();
    let addr = support::client::serve_axum(support::apps::app(store.clone(), config)).await;
    (Client::new(addr), store)
}

#[tokio::test]
async fn fail_closed_answers_503_and_recovers() {
    let (client, store) = start(StoreFailureMode::FailClosed).await;
    let first = client.get("/me").await.json();

    store.down.store(true, Ordering::SeqCst);
    for path in ["/me", "/optional"] {
        let response = client.get(path).await;
        assert_eq!(response.status, 503, "{path}");
        assert_eq!(response.headers["retry-after"], "1");
        assert_eq!(response.headers["x-auth-error"], "STORE_UNAVAILABLE");
        assert!(response.set_cookies().is_empty());
    }
    // A new visitor cannot be minted either.
    let newcomer = Client::new(client.addr());
    assert_eq!(newcomer.get("/me").await.status, 503);

    store.down.store(false, Ordering::SeqCst);
    assert_eq!(
        client.get("/me").await.json()["id"],
        first["id"],
        "nothing lost"
    );
    assert_eq!(newcomer.get("/me").await.status, 200);
}

#[tokio::test]
async fn fail_open_continues_without_auth_and_recovers() {
    let (client, store) = start(StoreFailureMode::FailOpen).await;
    let first = client.get("/me").await.json();

    store.down.store(true, Ordering::SeqCst);
    let optional = client.get("/optional").await;
    assert_eq!(optional.status, 200);
    assert_eq!(optional.json(), serde_json::Value::Null);
    assert!(optional.set_cookies().is_empty(), "the cookie is kept");
    let me = client.get("/me").await;
    assert_eq!(me.status, 401);
    assert_eq!(me.json()["code"], "UNAUTHENTICATED");
    // A handler action that needs auth gets a typed 401, not a 500.
    let claim = client.post("/claim/cart:1", "").await;
    assert_eq!(claim.status, 401);

    store.down.store(false, Ordering::SeqCst);
    assert_eq!(client.get("/me").await.json()["id"], first["id"]);
    assert!(store.calls.load(Ordering::SeqCst) > 0);
}
