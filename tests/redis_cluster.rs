//! The shared store conformance suite against `RedisStore` on a 3-master Redis Cluster that
//! the harness starts on 127.0.0.1:7101-7103.

#![cfg(feature = "redis")]

mod support;

tower_anonymous_auth::store_suite!(support::redis_server::cluster_store("cluster-suite"));

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::ownership::{check_ordered_reads, claim_many};
use support::redis_server::cluster_store;
use tower_anonymous_auth::store::{OwnershipStore, UserStore};

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

/// Review point 15a: two registrations of one email at the same instant, their user hashes
/// and the email key on different nodes. Exactly one wins, and the winner stays registered:
/// the loser must never take the winner for a dead holder (a user hash not written yet) and
/// remove it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_keep_the_winner() {
    use tower_anonymous_auth::store::UserRecord;
    use tower_anonymous_auth::{StoreError, User};
    let store = cluster_store("cluster-email-race").await;
    let now = 1_700_000_000_000;
    // Many pairs at once, so that the commands of one registration interleave with those
    // of others on every node's connection.
    for round in 0..20 {
        let pairs = futures::future::join_all((0..50).map(|pair| {
            let store = store.clone();
            async move {
                let email = format!("ann-{round}-{pair}@example.com");
                let record = |id: String| {
                    UserRecord::new(User::registered(id, "users", email.clone(), "Ann", now))
                };
                let a = record(format!("a{round}-{pair}"));
                let b = record(format!("b{round}-{pair}"));
                let (first, second) = tokio::join!(
                    store.insert_user(&a, None, now),
                    store.insert_user(&b, None, now)
                );
                (email, a, b, first, second)
            }
        }))
        .await;
        for (email, a, b, first, second) in pairs {
            let outcomes = [&first, &second];
            let won = outcomes.iter().filter(|o| o.is_ok()).count();
            assert_eq!(won, 1, "{email}: {outcomes:?}");
            for outcome in outcomes.iter().filter(|o| o.is_err()) {
                assert_eq!(outcome.as_ref().unwrap_err(), &StoreError::EmailTaken);
            }
            let (winner, loser) = if first.is_ok() { (&a, &b) } else { (&b, &a) };
            let holder = store
                .find_user_by_email("users", &email, now)
                .await
                .unwrap();
            assert_eq!(
                holder.map(|r| r.user.id),
                Some(winner.user.id.clone()),
                "{email}: the email names the winner"
            );
            assert!(
                store
                    .get_user(&winner.user.id, now)
                    .await
                    .unwrap()
                    .is_some(),
                "{email}: the winner was removed"
            );
            assert_eq!(store.get_user(&loser.user.id, now).await.unwrap(), None);
        }
    }
}

/// Review point 15b: a guest's own claims landing while its resources move to an account.
/// Every resource the guest claimed ends up with the account once a retry of the transfer
/// has run (a link's retry): none may be left owned by the guest outside its set, where no
/// transfer finds it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_during_a_cluster_transfer_are_never_stranded() {
    use tower_anonymous_auth::store::ClaimOutcome;
    let store = cluster_store("cluster-claim-race").await;
    for round in 0..80 {
        let (guest, account) = (format!("g{round}"), format!("a{round}"));
        for i in 0..20 {
            let claimed = store.claim(&format!("r{round}:old{i}"), &guest).await;
            assert!(claimed.unwrap().is_owned_by_caller());
        }
        let claims = futures::future::join_all((0..100).map(|i| {
            let (store, guest) = (store.clone(), guest.clone());
            async move {
                let resource = format!("r{round}:new{i}");
                let outcome = store.claim(&resource, &guest).await.unwrap();
                assert_eq!(outcome, ClaimOutcome::Claimed);
                resource
            }
        }));
        let transfers = async {
            for _ in 0..3 {
                store.transfer(&guest, &account).await.unwrap();
                tokio::task::yield_now().await;
            }
        };
        let (claimed, ()) = tokio::join!(claims, transfers);
        // What a link's retry does once the guest's requests are over.
        store.transfer(&guest, &account).await.unwrap();
        for resource in claimed {
            let owner = store.owner_of(&resource).await.unwrap();
            assert_eq!(
                owner.as_deref(),
                Some(account.as_str()),
                "round {round}: {resource} stranded with the guest"
            );
        }
        assert!(store.resources_of(&guest).await.unwrap().is_empty());
    }
}
