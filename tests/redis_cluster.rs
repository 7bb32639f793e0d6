//! The shared store conformance suite against `RedisStore` on a 3-master Redis Cluster that
//! the harness starts on 127.0.0.1:7101-7103.

#![cfg(feature = "redis")]

mod support;

store_suite!(support::redis_server::cluster_dyn_store("cluster-suite"));

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::ownership::{check_ordered_reads, claim_many};
use support::redis_server::cluster_store;
use tower_anonymous_auth::Store;

const N: usize = 10_000;

/// On a cluster the resources of one owner are spread over every node. During a transfer a
/// reader sees each resource owned by exactly `from` or `to` (`owner_of`, one key per
/// resource, is the source of truth), `resources_of` never lists a resource under both
/// owners nor loses one (ordered reads), and concurrent transfers count each resource once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_transfer_is_atomic_for_readers_and_exactly_once() {
    let store = cluster_store("cluster-transfer").await;
    let resources = claim_many(&store, "guest", N).await;
    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn({
        let store = store.clone();
        let done = done.clone();
        async move {
            let (mut reads, mut i) = (0usize, 0usize);
            while !done.load(Ordering::SeqCst) {
                for _ in 0..50 {
                    let resource = &resources[(i * 7919) % N];
                    i += 1;
                    let owner = store.owner_of(resource).await.expect("owner_of");
                    assert!(
                        matches!(owner.as_deref(), Some("guest" | "account")),
                        "{resource} owned by {owner:?} during the transfer"
                    );
                }
                check_ordered_reads(&store, "guest", "account", N).await;
                reads += 1;
            }
            reads
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let transfers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.transfer("guest", "account").await.unwrap().moved })
        })
        .collect();
    let mut moved = 0;
    for transfer in transfers {
        moved += transfer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let reads = reader.await.unwrap();
    assert_eq!(moved, N, "each resource moved exactly once");
    assert!(reads > 0, "the reader never ran during the transfer");
    assert_eq!(store.resources_of("account").await.unwrap().len(), N);
    assert!(store.resources_of("guest").await.unwrap().is_empty());
    assert_eq!(store.transfer("guest", "account").await.unwrap().moved, 0);
}

/// A cluster transfer aborted midway finishes when retried; nothing moves twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_transfer_resumes_after_interruption() {
    let n = 3_000;
    let store = cluster_store("cluster-resume").await;
    claim_many(&store, "guest", n).await;
    let task = tokio::spawn({
        let store = store.clone();
        async move { store.transfer("guest", "account").await }
    });
    while store.owner_of("res:0").await.unwrap().as_deref() == Some("guest")
        && store.resources_of("account").await.unwrap().is_empty()
    {
        tokio::task::yield_now().await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let partial = store.resources_of("account").await.unwrap().len();
    assert!(partial < n, "not interrupted midway");
    check_ordered_reads(&store, "guest", "account", n).await;
    let report = store.transfer("guest", "account").await.unwrap();
    assert!(report.moved <= n - partial);
    assert_eq!(store.resources_of("account").await.unwrap().len(), n);
    assert!(store.resources_of("guest").await.unwrap().is_empty());
}
