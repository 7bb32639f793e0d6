//! Redis going down and coming back: typed `Unavailable` errors, fast, no panic, and the
//! store recovers by itself.

#![cfg(feature = "redis")]

mod support;

use std::time::{Duration, Instant};
use support::redis_server::RedisServer;
use tower_anonymous_auth::store::OwnershipStore;
use tower_anonymous_auth::store::{ClaimOutcome, RedisStore, RedisStoreConfig};
use tower_anonymous_auth::StoreError;

fn config() -> RedisStoreConfig {
    RedisStoreConfig::default()
        .connection_timeout(Duration::from_millis(300))
        .response_timeout(Duration::from_millis(300))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_recovers_after_redis_restarts() {
    let mut server = RedisServer::start();
    let store = RedisStore::connect_with_config(&server.url(), config())
        .await
        .unwrap()
        .with_prefix("reconnect:");
    assert_eq!(
        store.claim("cart:1", "u").await.unwrap(),
        ClaimOutcome::Claimed
    );

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let err = store.owner_of("cart:1").await.unwrap_err();
        assert!(err.is_unavailable(), "expected Unavailable, got {err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }
    let err = store.transfer("u", "v").await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    server.restart();
    let started = Instant::now();
    loop {
        match store.claim("cart:2", "u").await {
            Ok(outcome) => {
                assert_eq!(outcome, ClaimOutcome::Claimed);
                break;
            }
            Err(err) => assert!(err.is_unavailable(), "{err:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "store did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.owner_of("cart:2").await.unwrap().as_deref(),
        Some("u")
    );
    println!("recovered {:?} after the restart", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_dead_server_is_unavailable() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let started = Instant::now();
    let err = RedisStore::connect_with_config(&url, config())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

/// A Redis that accepts connections but never answers makes calls time out quickly (the
/// response timeout), instead of hanging the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_times_out_fast() {
    let server = RedisServer::start();
    let store = RedisStore::connect_with_config(&server.url(), config())
        .await
        .unwrap()
        .with_prefix("hung:");
    assert!(store
        .claim("cart:1", "u")
        .await
        .unwrap()
        .is_owned_by_caller());
    server.pause();
    let started = Instant::now();
    let err = store.owner_of("cart:1").await.unwrap_err();
    let waited = started.elapsed();
    server.resume();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(waited < Duration::from_secs(2), "took {waited:?}");
    let started = Instant::now();
    while store.owner_of("cart:1").await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "store did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.owner_of("cart:1").await.unwrap().as_deref(),
        Some("u")
    );
}

/// An unreachable cluster is `Unavailable` too, and quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_dead_cluster_is_unavailable() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let started = Instant::now();
    let err = RedisStore::connect_cluster_with_config(&[url.as_str()], config())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// What a `main` returning `Result` prints when Redis is not there: where (password hidden)
/// and what to check, not just "connection refused".
#[tokio::test]
async fn an_unreachable_redis_says_where_and_what_to_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:s3cret@127.0.0.1:{port}/");
    let err = RedisStore::connect_with_config(&url, config())
        .await
        .unwrap_err();
    let printed = format!("{err:?}");
    assert!(err.is_unavailable(), "{printed}");
    assert!(
        printed.contains(&format!(
            "Redis at redis://:***@127.0.0.1:{port}/ is not reachable"
        )),
        "{printed}"
    );
    assert!(printed.contains("check that it runs there"), "{printed}");
    assert!(!printed.contains("s3cret"), "{printed}");
}
