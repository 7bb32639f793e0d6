//! `RedisStore::sweep_orphaned_ownership`: what guests evicted by Redis (real TTLs) owned is
//! released, on a single node and on a cluster (every primary is scanned); registered users
//! and live guests keep everything; an owner key that moved on is never deleted.

#![cfg(feature = "redis")]

mod support;

use redis::AsyncCommands;
use std::time::{Duration, Instant};
use support::account_app::now_ms;
use support::redis_server::{cluster_store, delete_prefix, redis_url, unique_prefix};
use tower_anonymous_auth::store::{OwnershipStore, UserStore};
use tower_anonymous_auth::store::{RedisStore, SessionRecord, SweepReport, UserRecord};
use tower_anonymous_auth::User;

const TTL_MS: u64 = 800;

async fn insert_guest(store: &RedisStore, id: &str, ttl_ms: u64) {
    let now = now_ms();
    let guest = UserRecord::new(User::anonymous(
        id,
        "users",
        format!("temp-{id}@anonymous.invalid"),
        "Guest",
        now,
    ))
    .with_expires_at(Some(now + ttl_ms));
    let session = SessionRecord::new(format!("{id}-s"), id, now, now + ttl_ms);
    store
        .insert_user(&guest, Some(&session), now)
        .await
        .unwrap();
}

async fn insert_member(store: &RedisStore, id: &str) {
    let member = UserRecord::new(User::registered(
        id,
        "users",
        format!("{id}@example.com"),
        "Member",
        now_ms(),
    ));
    store.insert_user(&member, None, now_ms()).await.unwrap();
}

async fn claim_all(store: &RedisStore, owner: &str, resources: &[&str]) {
    for resource in resources {
        assert!(store
            .claim(resource, owner)
            .await
            .unwrap()
            .is_owned_by_caller());
    }
}

async fn owner(store: &RedisStore, resource: &str) -> Option<String> {
    store.owner_of(resource).await.unwrap()
}

/// Waits until Redis itself has evicted the user hash of `id`.
async fn wait_evicted(conn: &mut redis::aio::MultiplexedConnection, key: &str) {
    let started = Instant::now();
    while conn.exists::<_, bool>(key).await.unwrap() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{key} was not evicted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_releases_what_evicted_guests_owned_and_nothing_else() {
    // A `*` in the prefix: unescaped, the SCAN pattern `...*{o:*` would also match
    // `neighbour`'s keys (`...Z{o:ghost}`); the sweep must leave them alone.
    let base = unique_prefix("sweep");
    let store = RedisStore::connect(&redis_url())
        .await
        .unwrap()
        .with_prefix(format!("{base}*"))
        .with_expiry_grace(Duration::ZERO);
    let neighbour = RedisStore::connect(&redis_url())
        .await
        .unwrap()
        .with_prefix(format!("{base}Z"));
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    insert_guest(&store, "idle", TTL_MS).await;
    insert_guest(&store, "active", 60_000).await;
    insert_member(&store, "member").await;
    claim_all(&store, "idle", &["cart:idle-1", "cart:idle-2"]).await;
    claim_all(&store, "active", &["cart:active"]).await;
    claim_all(&store, "member", &["order:1", "order:2"]).await;
    // A stale entry: the idle guest's set lists a resource the member owns (as a crashed
    // cluster transfer can leave behind). The sweep must not release it.
    let idle_set = format!("{}{{o:idle}}", store.prefix());
    let _: usize = conn.sadd(&idle_set, "order:1").await.unwrap();
    // The neighbour (another prefix) has an orphan of its own.
    let claimed = neighbour.claim("thing:1", "ghost").await.unwrap();
    assert!(claimed.is_owned_by_caller());

    let report = store.sweep_orphaned_ownership().await.unwrap();
    assert_eq!(report.orphaned_owners, 0, "everyone is alive: {report:?}");
    assert_eq!(report.owners_scanned, 3, "{report:?}");
    assert_eq!(owner(&store, "cart:idle-1").await.as_deref(), Some("idle"));

    wait_evicted(&mut conn, &format!("{}{{u:idle}}", store.prefix())).await;
    let report = store.sweep_orphaned_ownership().await.unwrap();
    let counts = |r: SweepReport| {
        (
            r.owners_scanned,
            r.orphaned_owners,
            r.released_resources,
            r.stale_entries,
        )
    };
    assert_eq!(counts(report), (3, 1, 2, 1), "{report:?}");
    assert_eq!(owner(&store, "cart:idle-1").await, None);
    assert_eq!(owner(&store, "cart:idle-2").await, None);
    assert!(!conn.exists::<_, bool>(&idle_set).await.unwrap());
    assert_eq!(owner(&store, "order:1").await.as_deref(), Some("member"));
    assert_eq!(owner(&store, "order:2").await.as_deref(), Some("member"));
    assert_eq!(
        store.resources_of("member").await.unwrap(),
        ["order:1", "order:2"]
    );
    assert_eq!(
        owner(&store, "cart:active").await.as_deref(),
        Some("active")
    );
    assert_eq!(owner(&neighbour, "thing:1").await.as_deref(), Some("ghost"));

    // Released resources can be claimed again; a second sweep has nothing to do.
    assert!(store
        .claim("cart:idle-1", "active")
        .await
        .unwrap()
        .is_owned_by_caller());
    let again = store.sweep_orphaned_ownership().await.unwrap();
    assert_eq!((again.orphaned_owners, again.released_resources), (0, 0));

    let neighbour_report = neighbour.sweep_orphaned_ownership().await.unwrap();
    assert_eq!(neighbour_report.released_resources, 1);
    assert_eq!(owner(&neighbour, "thing:1").await, None);
    delete_prefix(&store).await;
    delete_prefix(&neighbour).await;
}

/// A guest that registered (upgraded in place) lost its TTL: long after its anonymous
/// lifetime, its resources are still its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_never_touches_a_guest_that_registered() {
    let store = RedisStore::connect(&redis_url())
        .await
        .unwrap()
        .with_prefix(unique_prefix("sweep-registered"))
        .with_expiry_grace(Duration::ZERO);
    insert_guest(&store, "joins", 300).await;
    insert_guest(&store, "leaves", 300).await;
    claim_all(&store, "joins", &["cart:j"]).await;
    claim_all(&store, "leaves", &["cart:l"]).await;
    store
        .upgrade_user("joins", "joins@example.com", "Jo", None, now_ms())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let report = store.sweep_orphaned_ownership().await.unwrap();
    assert_eq!(report.orphaned_owners, 1, "{report:?}");
    assert_eq!(owner(&store, "cart:j").await.as_deref(), Some("joins"));
    assert_eq!(owner(&store, "cart:l").await, None);
    delete_prefix(&store).await;
}

/// On a cluster the owner sets are spread over the three primaries: the sweep scans each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_scans_every_cluster_primary() {
    const DEAD: usize = 40;
    let store = cluster_store("sweep-cluster")
        .await
        .with_expiry_grace(Duration::ZERO);
    insert_member(&store, "member").await;
    claim_all(&store, "member", &["order:1", "order:2"]).await;
    insert_guest(&store, "idle", 300).await;
    claim_all(&store, "idle", &["cart:idle"]).await;
    // Owners that never existed stand for guests Redis evicted long ago; their set keys hash
    // to slots on every primary.
    for i in 0..DEAD {
        let claimed = store
            .claim(&format!("res:{i}"), &format!("ghost-{i}"))
            .await;
        assert!(claimed.unwrap().is_owned_by_caller());
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let report = store.sweep_orphaned_ownership().await.unwrap();
    assert_eq!(report.owners_scanned, DEAD + 2, "{report:?}");
    assert_eq!(report.orphaned_owners, DEAD + 1, "{report:?}");
    assert_eq!(report.released_resources, DEAD + 1, "{report:?}");
    for i in 0..DEAD {
        assert_eq!(owner(&store, &format!("res:{i}")).await, None);
    }
    assert_eq!(owner(&store, "cart:idle").await, None);
    assert_eq!(
        store.resources_of("member").await.unwrap(),
        ["order:1", "order:2"]
    );
    let again = store.sweep_orphaned_ownership().await.unwrap();
    assert_eq!((again.owners_scanned, again.orphaned_owners), (1, 0));
}

/// End to end: a guest minted by the layer (anonymous lifetime 1 s) claims a cart over HTTP
/// and goes away; Redis evicts it by TTL and the sweep frees the cart, while a registered
/// member's order stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_frees_the_cart_of_a_guest_the_layer_minted() {
    use std::sync::Arc;
    use support::apps::{app, builder};
    use support::client::{serve_axum, Client};

    let store = RedisStore::connect(&redis_url())
        .await
        .unwrap()
        .with_prefix(unique_prefix("sweep-e2e"))
        .with_expiry_grace(Duration::ZERO);
    let config = builder()
        .secure(false)
        .mint_rate_limit(None)
        .anonymous_ttl(Duration::from_secs(1))
        .build()
        .unwrap();
    let addr = serve_axum(app(Arc::new(store.clone()), config)).await;
    let client = Client::new(addr);
    let claim = client.post("/claim/cart:guest", "").await;
    assert_eq!(claim.status, http::StatusCode::OK, "{}", claim.body);
    let guest = client.get("/me").await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(owner(&store, "cart:guest").await, Some(guest.clone()));
    insert_member(&store, "member").await;
    claim_all(&store, "member", &["order:1"]).await;

    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    wait_evicted(&mut conn, &format!("{}{{u:{guest}}}", store.prefix())).await;
    let report = store.sweep_orphaned_ownership().await.unwrap();
    assert_eq!(
        (report.orphaned_owners, report.released_resources),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(owner(&store, "cart:guest").await, None);
    assert_eq!(owner(&store, "order:1").await.as_deref(), Some("member"));
    delete_prefix(&store).await;
}
