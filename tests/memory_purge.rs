//! `MemoryStore::purge_expired`: guests inactive past their lifetime are gone with all their
//! sessions and everything they owned; registered users (and guests that registered) keep
//! their records and resources, whatever the time.

use tower_anonymous_auth::store::{MemoryStore, SessionRecord, UserRecord};
use tower_anonymous_auth::store::{OwnershipStore, UserStore};
use tower_anonymous_auth::User;

fn guest(id: &str, expires_at: u64) -> UserRecord {
    UserRecord::new(User::anonymous(
        id,
        "users",
        format!("temp-{id}@anonymous.invalid"),
        "Guest",
        0,
    ))
    .with_expires_at(Some(expires_at))
}

async fn claim_all(store: &MemoryStore, owner: &str, resources: &[&str]) {
    for resource in resources {
        assert!(store
            .claim(resource, owner)
            .await
            .unwrap()
            .is_owned_by_caller());
    }
}

#[tokio::test]
async fn purge_removes_stale_guests_with_sessions_and_ownership_only() {
    let store = MemoryStore::new();
    // A stale guest with two sessions and two resources.
    store
        .insert_user(
            &guest("stale", 1_000),
            Some(&SessionRecord::new("stale-1", "stale", 0, 1_000)),
            0,
        )
        .await
        .unwrap();
    store
        .insert_session(&SessionRecord::new("stale-2", "stale", 0, 1_000))
        .await
        .unwrap();
    claim_all(&store, "stale", &["cart:a", "cart:b"]).await;
    // A guest that stayed active (refreshed past the purge time).
    store
        .insert_user(
            &guest("active", 1_000),
            Some(&SessionRecord::new("active-1", "active", 0, 1_000)),
            0,
        )
        .await
        .unwrap();
    store.refresh("active-1", 5_000).await.unwrap();
    claim_all(&store, "active", &["cart:c"]).await;
    // A registered user whose only session expired: the session goes, the user stays.
    let member = UserRecord::new(User::registered("member", "users", "m@x.io", "M", 0));
    store
        .insert_user(
            &member,
            Some(&SessionRecord::new("member-1", "member", 0, 1_000)),
            0,
        )
        .await
        .unwrap();
    claim_all(&store, "member", &["order:1", "order:2"]).await;
    // A guest that registered before its lifetime ended: no expiry any more.
    store
        .insert_user(&guest("joined", 1_000), None, 0)
        .await
        .unwrap();
    claim_all(&store, "joined", &["cart:j"]).await;
    store
        .upgrade_user("joined", "j@x.io", "J", None, 500)
        .await
        .unwrap();

    assert_eq!(store.purge_expired(999), 0, "nothing has expired yet");
    assert_eq!((store.user_count(), store.session_count()), (4, 4));

    assert_eq!(store.purge_expired(2_000), 1);
    // Gone, not merely hidden: even read at time 0 (when they were live) they are missing.
    assert_eq!(store.get_user("stale", 0).await.unwrap(), None);
    for sid in ["stale-1", "stale-2", "member-1"] {
        assert_eq!(store.get_session(sid, 0).await.unwrap(), None, "{sid}");
    }
    assert_eq!(store.owner_of("cart:a").await.unwrap(), None);
    assert_eq!(store.owner_of("cart:b").await.unwrap(), None);
    assert!(store.resources_of("stale").await.unwrap().is_empty());
    assert_eq!((store.user_count(), store.session_count()), (3, 1));

    // The others keep everything.
    assert_eq!(
        store.resources_of("active").await.unwrap(),
        ["cart:c"].map(String::from)
    );
    assert!(store
        .get_session("active-1", 2_000)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.resources_of("member").await.unwrap(),
        ["order:1", "order:2"].map(String::from)
    );
    assert_eq!(
        store.resources_of("joined").await.unwrap(),
        ["cart:j"].map(String::from)
    );

    // Registered users survive any later purge; the active guest expires in its turn.
    assert_eq!(store.purge_expired(u64::MAX), 1);
    assert!(store.get_user("member", u64::MAX).await.unwrap().is_some());
    assert!(store.get_user("joined", u64::MAX).await.unwrap().is_some());
    assert_eq!(store.owner_of("cart:c").await.unwrap(), None);
    assert_eq!(
        store.owner_of("order:1").await.unwrap().as_deref(),
        Some("member")
    );
    assert_eq!(
        store.owner_of("cart:j").await.unwrap().as_deref(),
        Some("joined")
    );
    // Released resources are free to claim again.
    claim_all(&store, "member", &["cart:a"]).await;
}

/// More expired guests than one batch: all of them go, in several write-lock holds.
#[tokio::test]
async fn purge_handles_more_than_one_batch() {
    let store = MemoryStore::new();
    let n = MemoryStore::PURGE_BATCH * 2 + 7;
    for i in 0..n {
        let id = format!("g{i}");
        store.insert_user(&guest(&id, 10), None, 0).await.unwrap();
        let claimed = store.claim(&format!("cart:{i}"), &id).await.unwrap();
        assert!(claimed.is_owned_by_caller());
    }
    let member = UserRecord::new(User::registered("member", "users", "m@x.io", "M", 0));
    store.insert_user(&member, None, 0).await.unwrap();
    assert_eq!(store.purge_expired(10), n);
    assert_eq!(store.user_count(), 1);
    assert_eq!(store.owner_of("cart:0").await.unwrap(), None);
    assert_eq!(
        store.owner_of(&format!("cart:{}", n - 1)).await.unwrap(),
        None
    );
}
