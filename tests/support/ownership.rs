//! Ownership helpers for the transfer tests.

use futures::{StreamExt, TryStreamExt};
use tower_anonymous_auth::store::{ClaimOutcome, Store};

/// Claims `n` resources (`res:0` ..) for `owner`, many at a time; returns their names.
pub async fn claim_many<S: Store + Clone>(store: &S, owner: &str, n: usize) -> Vec<String> {
    let resources: Vec<String> = (0..n).map(|i| format!("res:{i}")).collect();
    futures::stream::iter(resources.clone())
        .map(|resource| {
            let store = store.clone();
            let owner = owner.to_owned();
            async move { store.claim(&resource, &owner).await }
        })
        .buffer_unordered(64)
        .try_for_each(|outcome| async move {
            assert_eq!(outcome, ClaimOutcome::Claimed);
            Ok(())
        })
        .await
        .expect("claim failed");
    resources
}

/// Checks the two ordered reads a reader can make while `from` moves to `to`: read `from`
/// then `to` and every resource shows up at least once (nothing is lost); read `to` then
/// `from` and none shows up twice (nothing is duplicated).
pub async fn check_ordered_reads<S: Store>(store: &S, from: &str, to: &str, total: usize) {
    let early_from = store.resources_of(from).await.expect("resources_of");
    let late_to = store.resources_of(to).await.expect("resources_of");
    let mut union: Vec<&String> = early_from.iter().chain(&late_to).collect();
    union.sort();
    union.dedup();
    assert_eq!(
        union.len(),
        total,
        "a resource was listed under neither owner"
    );

    let early_to = store.resources_of(to).await.expect("resources_of");
    let late_from = store.resources_of(from).await.expect("resources_of");
    assert!(
        early_to.len() + late_from.len() <= total,
        "a resource was listed under both owners"
    );
}
