//! The shared store conformance suite against `RedisStore` on one node (`REDIS_URL`),
//! each case under its own key prefix.

#![cfg(feature = "redis")]

mod support;

store_suite!(support::redis_server::shared_dyn_store("suite"));

use redis::AsyncCommands;
use support::redis_server::{delete_prefix, redis_url, shared_store};
use tower_anonymous_auth::{Store, StoreError};

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
    clone.claim("cart:1", "u").await.unwrap();
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
