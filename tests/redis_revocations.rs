//! Two app instances on one Redis (and on the 3-master Cluster), each with the session memo
//! that RedisStore keeps on by default: a sign-out on one instance is refused by the other
//! within milliseconds; a revocation while the feed is down is still refused; after a Redis
//! restart nothing revoked comes back.

#![cfg(feature = "redis")]

mod support;

use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::account_app::{spawn_app, AppOptions, TestApp};
use support::redis_server::{cli, cluster_urls, redis_url, unique_prefix, RedisServer};
use support::two_instances::{registered, until_refused, who};
use tower_anonymous_auth::store::{RedisStore, RedisStoreConfig};
use tower_anonymous_auth::Store;

fn config() -> RedisStoreConfig {
    RedisStoreConfig::default()
        .connection_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_millis(500))
}

/// Two instances (each its own connection and layer) on one node under one prefix.
async fn two_instances(url: &str, prefix: &str) -> (TestApp, TestApp) {
    two_instances_with(url, prefix, AppOptions::default()).await
}

async fn two_instances_with(url: &str, prefix: &str, options: AppOptions) -> (TestApp, TestApp) {
    let mut apps = Vec::new();
    for _ in 0..2 {
        let store = RedisStore::connect_with_config(url, config())
            .await
            .unwrap()
            .with_prefix(prefix);
        apps.push(spawn_app(Arc::new(store) as Arc<dyn Store>, options.clone()).await);
    }
    let b = apps.pop().unwrap();
    (apps.pop().unwrap(), b)
}

/// Two instances on the test cluster under one prefix.
async fn two_cluster_instances(prefix: &str) -> (TestApp, TestApp) {
    let urls = tokio::task::spawn_blocking(cluster_urls).await.unwrap();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let mut apps = Vec::new();
    for _ in 0..2 {
        let store = RedisStore::connect_cluster(&urls)
            .await
            .unwrap()
            .with_prefix(prefix);
        apps.push(spawn_app(Arc::new(store) as Arc<dyn Store>, AppOptions::default()).await);
    }
    let b = apps.pop().unwrap();
    (apps.pop().unwrap(), b)
}

/// Lets the instances' revocation feeds subscribe (they start with the layer).
async fn feeds_connected() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Deletes a session behind the store's back (no announcement): an instance that still
/// accepts it is answering from its memo.
fn delete_unannounced(port: u16, cluster: bool, prefix: &str, me: &Value) {
    let user_key = format!("{prefix}{{u:{}}}", me["id"].as_str().unwrap());
    let field = format!("s:{}", me["session_id"].as_str().unwrap());
    let mut args = vec![];
    if cluster {
        args.push("-c");
    }
    args.extend(["hdel", user_key.as_str(), field.as_str()]);
    assert_eq!(cli(port, &args).trim(), "1", "the session was deleted");
}

/// The scenario on two instances: B answers from its memo, A signs out, B refuses within
/// 50 ms.
async fn sign_out_on_a_is_refused_by_b(
    a: &TestApp,
    b: &TestApp,
    port: u16,
    cluster: bool,
    prefix: &str,
) {
    feeds_connected().await;
    // The memo is in use: a session deleted without announcement still works on B.
    let (browser, me) = registered(a, "memo@example.com").await;
    let on_b = browser.fork_to(&b.client);
    let id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&on_b).await, id);
    delete_unannounced(port, cluster, prefix, &me);
    assert_eq!(who(&on_b).await, id, "B answers from its memo");

    let (browser, me) = registered(a, "ann@example.com").await;
    let on_b = browser.fork_to(&b.client);
    let id = me["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(who(&on_b).await, id, "B accepts (and memoizes) the session");
    }
    let signed_out = browser.post("/sign-out", Value::Null).await;
    assert_eq!(signed_out.status, 200);
    let took = until_refused(&on_b, &id).await;
    println!("B refused the signed-out token after {took:?}");
    assert!(took < Duration::from_millis(50), "took {took:?}");
    assert_ne!(who(&on_b).await, id, "and keeps refusing it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_on_one_instance_is_refused_by_another_within_50_ms() {
    let prefix = unique_prefix("revocations");
    let url = redis_url();
    let port: u16 = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let (a, b) = two_instances(&url, &prefix).await;
    sign_out_on_a_is_refused_by_b(&a, &b, port, false, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_cluster_a_sign_out_is_refused_by_another_instance_within_50_ms() {
    let prefix = unique_prefix("revocations-cluster");
    let (a, b) = two_cluster_instances(&prefix).await;
    let port = support::redis_server::CLUSTER_PORTS[0];
    sign_out_on_a_is_refused_by_b(&a, &b, port, true, &prefix).await;
}

/// A lazy guest (nothing of it stored) signed out on A: B, whose memo vouched for its token,
/// refuses it at once too (revoking a lazy token is announced like any revocation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_guest_signed_out_on_one_instance_is_refused_by_another() {
    let prefix = unique_prefix("revocations-lazy");
    let lazy = AppOptions {
        lazy: true,
        ..AppOptions::default()
    };
    let (a, b) = two_instances_with(&redis_url(), &prefix, lazy).await;
    feeds_connected().await;
    let browser = a.client.fresh();
    let me = browser.get("/me").await.json;
    assert_eq!(me["persisted"], false, "a lazy guest");
    let id = me["id"].as_str().unwrap().to_owned();
    let on_b = browser.fork_to(&b.client);
    for _ in 0..3 {
        assert_eq!(who(&on_b).await, id);
    }
    assert_eq!(browser.post("/sign-out", Value::Null).await.status, 200);
    let took = until_refused(&on_b, &id).await;
    assert!(took < Duration::from_millis(50), "took {took:?}");
}

/// The feed's connection is killed and a session revoked while it is down: B, which had the
/// session in its memo, refuses it; once the feed is back, B's memo works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_while_the_feed_is_down_is_still_refused() {
    let server = RedisServer::start();
    let prefix = "feed-down:";
    let (a, b) = two_instances(&server.url(), prefix).await;
    feeds_connected().await;
    let (browser, me) = registered(&a, "bob@example.com").await;
    let on_b = browser.fork_to(&b.client);
    let id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&on_b).await, id);
    assert_eq!(who(&on_b).await, id);

    let killed = cli(server.port(), &["client", "kill", "type", "pubsub"]);
    assert!(
        killed.trim().parse::<u32>().unwrap() >= 2,
        "both feeds killed: {killed}"
    );
    // B notices its feed is gone (the server closed it), then A revokes: nobody hears it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(browser.post("/sign-out", Value::Null).await.status, 200);
    assert_ne!(
        who(&on_b).await,
        id,
        "B does not trust its memo while its feed is down"
    );

    // The feeds reconnect (50 ms); the memo works again, and starts empty.
    feeds_connected().await;
    let (browser, me) = registered(&a, "cy@example.com").await;
    let on_b = browser.fork_to(&b.client);
    let id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&on_b).await, id);
    delete_unannounced(server.port(), false, prefix, &me);
    assert_eq!(
        who(&on_b).await,
        id,
        "B trusts its memo again once its feed is back"
    );
}

/// Redis restarts (its append-only file kept): a session revoked before stays revoked on
/// both instances, one that was live still works, and B's memo starts over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_restart_nothing_revoked_comes_back() {
    let mut server = RedisServer::start_persistent();
    let (a, b) = two_instances(&server.url(), "restart:").await;
    feeds_connected().await;
    let (revoked, revoked_me) = registered(&a, "dee@example.com").await;
    let (kept, kept_me) = registered(&a, "eve@example.com").await;
    let (revoked_on_b, kept_on_b) = (revoked.fork_to(&b.client), kept.fork_to(&b.client));
    let revoked_id = revoked_me["id"].as_str().unwrap().to_owned();
    let kept_id = kept_me["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&revoked_on_b).await, revoked_id);
    assert_eq!(who(&kept_on_b).await, kept_id);
    assert_eq!(revoked.post("/sign-out", Value::Null).await.status, 200);
    until_refused(&revoked_on_b, &revoked_id).await;

    // Both stores and both feeds reconnect by themselves.
    let server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while who(&kept_on_b).await != kept_id {
        assert!(
            Instant::now() < deadline,
            "the live session did not come back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(who(&revoked_on_b).await, revoked_id, "revoked on B");
    assert_ne!(who(&revoked).await, revoked_id, "revoked on A");
    assert_eq!(who(&kept).await, kept_id, "still live on A");
    drop(server);
}
