//! `RedisStore::transfer` on one node: atomic for readers, resumable, exactly-once under
//! concurrency, and never blocking Redis for long.

#![cfg(feature = "redis")]

mod support;

use redis::AsyncCommands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::ownership::{check_ordered_reads, claim_many};
use support::redis_server::{delete_prefix, redis_url, shared_store, RedisServer};
use tower_anonymous_auth::store::OwnershipStore;
use tower_anonymous_auth::store::RedisStore;

const N: usize = 10_000;

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("raw connection")
}

fn set_key(store: &RedisStore, owner: &str) -> String {
    format!("{}{{o:{owner}}}", store.prefix())
}

fn owner_key(store: &RedisStore, resource: &str) -> String {
    format!("{}{{r:{resource}}}", store.prefix())
}

/// (a) A reader polling during a 10,000-resource transfer sees every resource owned by
/// exactly `from` or `to`, and listed in exactly the matching set, in one atomic snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_neither_or_both() {
    let store = shared_store("transfer-readers").await;
    let resources = claim_many(&store, "guest", N).await;
    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn({
        let store = store.clone();
        let done = done.clone();
        async move {
            let mut conn = raw(&redis_url()).await;
            let (from_set, to_set) = (set_key(&store, "guest"), set_key(&store, "account"));
            let (mut saw_from, mut saw_to, mut i) = (0usize, 0usize, 0usize);
            while !done.load(Ordering::SeqCst) {
                let resource = &resources[(i * 7919) % N];
                i += 1;
                let owner = store.owner_of(resource).await.expect("owner_of");
                match owner.as_deref() {
                    Some("guest") => saw_from += 1,
                    Some("account") => saw_to += 1,
                    other => panic!("{resource} owned by {other:?} during the transfer"),
                }
                let (owner, in_from, in_to, from_len, to_len): (String, bool, bool, usize, usize) =
                    redis::pipe()
                        .atomic()
                        .get(owner_key(&store, resource))
                        .sismember(&from_set, resource)
                        .sismember(&to_set, resource)
                        .scard(&from_set)
                        .scard(&to_set)
                        .query_async(&mut conn)
                        .await
                        .expect("snapshot");
                assert_eq!(from_len + to_len, N, "a resource in neither or both sets");
                assert_eq!((in_from, in_to), (owner == "guest", owner == "account"));
            }
            (saw_from, saw_to)
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = store.transfer("guest", "account").await.unwrap();
    done.store(true, Ordering::SeqCst);
    let (saw_from, saw_to) = reader.await.unwrap();
    assert_eq!(report.moved, N);
    assert!(
        saw_from > 0 && saw_to > 0,
        "reader saw {saw_from} / {saw_to}"
    );
    check_ordered_reads(&store, "guest", "account", N).await;
    assert_eq!(store.resources_of("account").await.unwrap().len(), N);
    delete_prefix(&store).await;
}

/// (b) A transfer aborted midway leaves a consistent state, and a retry finishes the job,
/// counting only what it moved itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_transfer_completes_on_retry() {
    let store = shared_store("transfer-interrupted").await;
    claim_many(&store, "guest", N).await;
    let mut conn = raw(&redis_url()).await;
    let to_set = set_key(&store, "account");
    let task = tokio::spawn({
        let store = store.clone();
        async move { store.transfer("guest", "account").await }
    });
    loop {
        let moved: usize = conn.scard(&to_set).await.unwrap();
        if moved > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let partial: usize = conn.scard(&to_set).await.unwrap();
    assert!(
        0 < partial && partial < N,
        "not interrupted midway: {partial}"
    );
    check_ordered_reads(&store, "guest", "account", N).await;
    let report = store.transfer("guest", "account").await.unwrap();
    assert_eq!(report.moved, N - partial);
    assert_eq!(store.resources_of("account").await.unwrap().len(), N);
    assert!(store.resources_of("guest").await.unwrap().is_empty());
    assert_eq!(store.transfer("guest", "account").await.unwrap().moved, 0);
    delete_prefix(&store).await;
}

/// (c) Concurrent transfers of one guest move each resource exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_move_each_resource_once() {
    let store = shared_store("transfer-concurrent").await;
    claim_many(&store, "guest", N).await;
    let transfers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.transfer("guest", "account").await.unwrap().moved })
        })
        .collect();
    let mut moved = 0;
    for transfer in transfers {
        moved += transfer.await.unwrap();
    }
    assert_eq!(moved, N);
    assert_eq!(store.resources_of("account").await.unwrap().len(), N);
    assert!(store.resources_of("guest").await.unwrap().is_empty());
    delete_prefix(&store).await;
}

/// (d) A 10,000-resource transfer is split into script calls of at most 500 resources, so no
/// single call holds the server for long; the slowest call (every call slower than 100 us goes
/// to the private server's slow log) is printed, not asserted: its time is the machine's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_blocks_redis_for_long() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("slowlog:");
    claim_many(&store, "guest", N).await;
    let mut conn = raw(&server.url()).await;
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "slowlog-max-len", "100000"])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "slowlog-log-slower-than", "100"])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("SLOWLOG")
        .arg("RESET")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(store.transfer("guest", "account").await.unwrap().moved, N);
    let wall = started.elapsed();
    let entries: Vec<Vec<redis::Value>> = redis::cmd("SLOWLOG")
        .arg(&["GET", "100000"])
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut max_us = 0i64;
    let mut slowest = String::new();
    for entry in &entries {
        let micros: i64 = redis::from_redis_value_ref(&entry[2]).unwrap();
        let args: Vec<String> = redis::from_redis_value_ref(&entry[3]).unwrap();
        if micros > max_us {
            max_us = micros;
            slowest = args.first().cloned().unwrap_or_default();
        }
    }
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    let script_calls: usize = info
        .lines()
        .filter(|line| line.starts_with("cmdstat_eval"))
        .filter_map(|line| {
            line.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    println!(
        "transfer of {N}: {script_calls} script calls, {} calls over 100 us, slowest {max_us} us \
         ({slowest}), {wall:?} wall time",
        entries.len()
    );
    // The bound is structural (at most 500 resources per script call), not a timing: how
    // long one call takes depends on the machine and what else it runs; it is printed above.
    assert!(
        script_calls >= N / 500,
        "not batched: {script_calls} script calls"
    );
    drop(server);
}
