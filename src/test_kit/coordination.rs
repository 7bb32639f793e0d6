//! The cases about rate limits and leases ([`Coordination`]), run on the store's own
//! coordination or, for a store without one, on the layer's in-process default.

use crate::store::{Coordination, Coordinator, Store};
use std::sync::Arc;

/// Rate-limit buckets allow a burst, then refuse with the wait until the next attempt, each key on its own.
pub async fn rate_limit_buckets_are_per_key(store: Arc<dyn Store>) {
    use crate::store::RateDecision;
    use crate::RateLimit;
    let store = Coordinator::new(store);
    let limit = RateLimit::new(2, 60);
    let now = 1_000_000;
    assert!(store
        .rate_limit("a", limit, now)
        .await
        .unwrap()
        .is_allowed());
    assert!(store
        .rate_limit("a", limit, now)
        .await
        .unwrap()
        .is_allowed());
    assert_eq!(
        store.rate_limit("a", limit, now).await.unwrap(),
        RateDecision::Limited {
            retry_after_ms: 1_000
        }
    );
    assert!(store
        .rate_limit("b", limit, now)
        .await
        .unwrap()
        .is_allowed());
    assert!(store
        .rate_limit("a", limit, now + 1_000)
        .await
        .unwrap()
        .is_allowed());
}

/// A lease has one holder until it releases it; the holder renews it.
pub async fn leases_have_one_holder_until_released(store: Arc<dyn Store>) {
    let leases = Coordinator::new(store);
    let now = 1_000_000;
    assert!(leases
        .acquire_lease("guest:g", "a", 1_000, now)
        .await
        .unwrap());
    assert!(
        !leases
            .acquire_lease("guest:g", "b", 1_000, now + 10)
            .await
            .unwrap(),
        "another holder waits while the lease lives"
    );
    assert!(
        leases
            .acquire_lease("guest:h", "b", 1_000, now)
            .await
            .unwrap(),
        "leases are per key"
    );
    assert!(
        leases
            .acquire_lease("guest:g", "a", 1_000, now + 500)
            .await
            .unwrap(),
        "the holder renews its lease"
    );
    leases.release_lease("guest:g", "b").await.unwrap();
    assert!(
        !leases
            .acquire_lease("guest:g", "b", 1_000, now + 600)
            .await
            .unwrap(),
        "only the holder releases a lease"
    );
    leases.release_lease("guest:g", "a").await.unwrap();
    assert!(leases
        .acquire_lease("guest:g", "b", 50, now + 700)
        .await
        .unwrap());
}
