//! The cases about ownership ([`OwnershipStore`](crate::store::OwnershipStore)).

use crate::store::{ClaimOutcome, Store};
use std::sync::Arc;

/// A resource has at most one owner; claims, releases and both lookups agree.
pub async fn claim_release_and_lookups(store: Arc<dyn Store>) {
    assert_eq!(
        store.claim("cart:2", "a").await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.claim("cart:1", "a").await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.claim("cart:1", "a").await.unwrap(),
        ClaimOutcome::AlreadyOwned
    );
    assert_eq!(
        store.claim("cart:1", "b").await.unwrap(),
        ClaimOutcome::OwnedByOther("a".into())
    );
    assert_eq!(
        store.owner_of("cart:1").await.unwrap().as_deref(),
        Some("a")
    );
    assert_eq!(store.owner_of("cart:9").await.unwrap(), None);
    assert_eq!(
        store.resources_of("a").await.unwrap(),
        vec!["cart:1".to_string(), "cart:2".to_string()]
    );
    assert!(store.resources_of("b").await.unwrap().is_empty());
    assert!(!store.release("cart:1", "b").await.unwrap());
    assert!(store.release("cart:1", "a").await.unwrap());
    assert_eq!(store.owner_of("cart:1").await.unwrap(), None);
    assert_eq!(
        store.resources_of("a").await.unwrap(),
        vec!["cart:2".to_string()]
    );
    assert_eq!(
        store.claim("cart:1", "b").await.unwrap(),
        ClaimOutcome::Claimed
    );
}

/// `transfer` moves every resource of one user to another, and a retry moves nothing.
pub async fn transfer_moves_everything_once(store: Arc<dyn Store>) {
    for i in 0..50 {
        let claimed = store.claim(&format!("item:{i:03}"), "guest").await.unwrap();
        assert_eq!(claimed, ClaimOutcome::Claimed);
    }
    let claimed = store.claim("item:account-own", "account").await.unwrap();
    assert_eq!(claimed, ClaimOutcome::Claimed);
    let report = store.transfer("guest", "account").await.unwrap();
    assert_eq!(report.moved, 50);
    assert!(store.resources_of("guest").await.unwrap().is_empty());
    let owned = store.resources_of("account").await.unwrap();
    assert_eq!(owned.len(), 51);
    for i in 0..50 {
        let r = format!("item:{i:03}");
        assert_eq!(
            store.owner_of(&r).await.unwrap().as_deref(),
            Some("account")
        );
    }
    // A retry of a finished transfer is a no-op.
    assert_eq!(store.transfer("guest", "account").await.unwrap().moved, 0);
    assert_eq!(store.transfer("account", "account").await.unwrap().moved, 0);
    assert_eq!(store.resources_of("account").await.unwrap().len(), 51);
}

/// Two transfers of one user at once move each resource exactly once.
pub async fn concurrent_transfers_move_each_resource_once(store: Arc<dyn Store>) {
    let n = 500;
    for i in 0..n {
        let claimed = store.claim(&format!("r:{i}"), "guest").await.unwrap();
        assert_eq!(claimed, ClaimOutcome::Claimed);
    }
    let a = tokio::spawn({
        let store = store.clone();
        async move { store.transfer("guest", "account").await.unwrap().moved }
    });
    let b = tokio::spawn({
        let store = store.clone();
        async move { store.transfer("guest", "account").await.unwrap().moved }
    });
    let moved = a.await.unwrap() + b.await.unwrap();
    assert_eq!(moved, n);
    assert_eq!(store.resources_of("account").await.unwrap().len(), n);
    assert!(store.resources_of("guest").await.unwrap().is_empty());
}
