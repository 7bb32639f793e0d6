//! The shared store conformance suite against `RedisStore` on one node (`REDIS_URL`),
//! each case under its own key prefix.

#![cfg(feature = "redis")]

mod support;

// Each case under its own prefix, deleted afterwards.
tower_anonymous_auth::store_suite!(
    support::redis_server::shared_store("suite"),
    |store: std::sync::Arc<tower_anonymous_auth::RedisStore>| async move {
        support::redis_server::delete_prefix(&store).await
    }
);

use redis::AsyncCommands;
use support::redis_server::{delete_prefix, redis_url, shared_store};
use tower_anonymous_auth::store::{Coordination, OwnershipStore, UserStore};
use tower_anonymous_auth::StoreError;

/// Data this crate cannot read is a typed error, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_records_are_errors_not_panics() {
    let store = shared_store("corrupt").await;
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let prefix = store.prefix().to_owned();
    let _: () = conn
        .hset_multiple(
            format!("{prefix}{{u:bad}}"),
            &[
                ("c", "users"),
                ("e", "x@y.z"),
                ("n", "N"),
                ("a", "maybe"),
                ("t", "0"),
            ],
        )
        .await
        .unwrap();
    let err = store.get_user("bad", 0).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let _: () = conn
        .hset_multiple(
            format!("{prefix}{{s:bad}}"),
            &[("u", "bad"), ("t", "soon"), ("x", "1")],
        )
        .await
        .unwrap();
    let err = store.get_session("bad", 0).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    // A session kept inside its user's hash, with an unreadable value.
    let _: () = conn
        .hset(format!("{prefix}{{u:bad}}"), "s:bad.s", "soon:1")
        .await
        .unwrap();
    let err = store.get_session("bad.s", 0).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let _: () = conn
        .set(format!("{prefix}{{o:bad}}"), "not a set")
        .await
        .unwrap();
    let err = store.resources_of("bad").await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    delete_prefix(&store).await;
}

/// `RedisStore` is `Clone + Debug`; clones share the connection and the prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_data_and_debug_shows_the_setup() {
    let store = shared_store("clone").await;
    let clone = store.clone();
    assert!(clone
        .claim("cart:1", "u")
        .await
        .unwrap()
        .is_owned_by_caller());
    assert_eq!(
        store.owner_of("cart:1").await.unwrap().as_deref(),
        Some("u")
    );
    let debug = format!("{store:?}");
    assert!(
        debug.contains("single") && debug.contains(store.prefix()),
        "{debug}"
    );
    delete_prefix(&store).await;
}

/// A guest's placeholder email has no index key, yet stays unique and findable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placeholder_emails_stay_unique_without_an_index_key() {
    use tower_anonymous_auth::store::UserRecord;
    use tower_anonymous_auth::User;
    let store = shared_store("placeholder").await;
    let now = 1_000;
    let guest = UserRecord::new(User::anonymous("g1", "users", "temp-g1@x.io", "G", now))
        .with_expires_at(Some(now + 10_000));
    store.insert_user(&guest, None, now).await.unwrap();
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = conn.keys(format!("{}*", store.prefix())).await.unwrap();
    assert_eq!(keys.len(), 1, "only the user hash: {keys:?}");
    let found = store
        .find_user_by_email("users", "temp-g1@x.io", now)
        .await
        .unwrap();
    assert_eq!(found, Some(guest));
    assert_eq!(
        store
            .find_user_by_email("admins", "temp-g1@x.io", now)
            .await
            .unwrap(),
        None
    );
    let thief = UserRecord::new(User::registered("t", "users", "temp-g1@x.io", "T", now));
    assert_eq!(
        store.insert_user(&thief, None, now).await.unwrap_err(),
        StoreError::EmailTaken
    );
    assert_eq!(store.get_user("t", now).await.unwrap(), None, "rolled back");
    // Once the guest has expired, the string is free to take.
    let later = now + 10_000;
    store.insert_user(&thief, None, later).await.unwrap();
    let found = store
        .find_user_by_email("users", "temp-g1@x.io", later)
        .await
        .unwrap();
    assert_eq!(found.map(|r| r.user.id).as_deref(), Some("t"));
    delete_prefix(&store).await;
}

/// Mint rate-limit buckets live in Redis: two app instances (two stores on one server)
/// share them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_buckets_are_shared_between_instances() {
    use tower_anonymous_auth::{store::RateDecision, RateLimit};
    let first = shared_store("rate").await;
    let second = tower_anonymous_auth::store::RedisStore::connect(&redis_url())
        .await
        .unwrap()
        .with_prefix(first.prefix().to_owned());
    let limit = RateLimit::new(3, 60);
    let now = 5_000_000;
    for store in [&first, &second, &first] {
        assert!(store
            .rate_limit("mint:198.51.100.1", limit, now)
            .await
            .unwrap()
            .is_allowed());
    }
    assert_eq!(
        second
            .rate_limit("mint:198.51.100.1", limit, now)
            .await
            .unwrap(),
        RateDecision::Limited {
            retry_after_ms: 1_000
        }
    );
    delete_prefix(&first).await;
}
