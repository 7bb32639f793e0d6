//! Real Redis expiry: idle guests and their sessions and email entries are evicted by Redis
//! itself, `refresh` slides the expiry, `upgrade_user` removes it.

#![cfg(feature = "redis")]

mod support;

use redis::AsyncCommands;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::redis_server::{delete_prefix, redis_url, shared_store};
use tower_anonymous_auth::store::UserStore;
use tower_anonymous_auth::store::{RedisStore, SessionRecord, UserRecord};
use tower_anonymous_auth::User;

const TTL_MS: u64 = 1_000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The user, session and email keys of guest `id` with session `id-s`.
fn guest_keys(store: &RedisStore, id: &str) -> [String; 3] {
    let p = store.prefix();
    [
        format!("{p}{{u:{id}}}"),
        format!("{p}{{s:{id}-s}}"),
        format!("{p}{{e:5:users:guest-{id}@example.com}}"),
    ]
}

async fn insert_guest(store: &RedisStore, id: &str, now: u64) {
    let guest = UserRecord::new(User::anonymous(
        id,
        "users",
        // Not a `temp-{id}@` placeholder, so the email has an index key, with a TTL.
        format!("guest-{id}@example.com"),
        "Guest",
        now,
    ))
    .with_expires_at(Some(now + TTL_MS));
    let session = SessionRecord::new(format!("{id}-s"), id, now, now + TTL_MS);
    store
        .insert_user(&guest, Some(&session), now)
        .await
        .unwrap();
}

async fn existing(conn: &mut redis::aio::MultiplexedConnection, keys: &[String]) -> usize {
    conn.exists(keys).await.unwrap()
}

async fn sleep_until(start: Instant, at_ms: u64) {
    tokio::time::sleep_until((start + Duration::from_millis(at_ms)).into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_evicts_idle_guests_and_keeps_registered_users() {
    let store = shared_store("ttl").await.with_expiry_grace(Duration::ZERO);
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let start = Instant::now();
    let now = now_ms();
    for id in ["idle", "active", "joins"] {
        insert_guest(&store, id, now).await;
    }
    let (idle, active, joins) = (
        guest_keys(&store, "idle"),
        guest_keys(&store, "active"),
        guest_keys(&store, "joins"),
    );
    let pttl: i64 = conn.pttl(&idle[0]).await.unwrap();
    assert!(0 < pttl && pttl <= TTL_MS as i64, "pttl {pttl}");
    store
        .upgrade_user("joins", "joins@example.com", "Jo", Some("$h"), now)
        .await
        .unwrap();
    let member_key = format!("{}{{u:joins}}", store.prefix());
    let member_email = format!("{}{{e:5:users:joins@example.com}}", store.prefix());
    assert_eq!(conn.pttl::<_, i64>(&member_key).await.unwrap(), -1);
    assert_eq!(conn.pttl::<_, i64>(&member_email).await.unwrap(), -1);

    sleep_until(start, 500).await;
    store.refresh("active-s", now_ms() + TTL_MS).await.unwrap();

    sleep_until(start, 1_300).await;
    assert_eq!(
        existing(&mut conn, &idle).await,
        0,
        "the idle guest is evicted"
    );
    assert_eq!(
        existing(&mut conn, &active).await,
        3,
        "the refreshed guest is kept"
    );
    assert!(store
        .get_session("active-s", now_ms())
        .await
        .unwrap()
        .is_some());

    sleep_until(start, 2_000).await;
    assert_eq!(
        existing(&mut conn, &active).await,
        0,
        "evicted once idle again"
    );
    // The registered user, its email and its (still live) session index stay.
    assert_eq!(existing(&mut conn, &[member_key, member_email]).await, 2);
    let later = now_ms();
    let member = store.get_user("joins", later).await.unwrap().unwrap();
    assert!(!member.user.is_anonymous);
    assert_eq!(existing(&mut conn, &joins[..1]).await, 1);
    assert_eq!(
        existing(&mut conn, &joins[1..2]).await,
        0,
        "its guest session expired"
    );
    delete_prefix(&store).await;
}
