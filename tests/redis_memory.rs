//! Memory footprint of one anonymous user with one session in Redis (`MEMORY USAGE` of every
//! key it has). Run with `--nocapture` to see the figure.

#![cfg(feature = "redis")]

mod support;

use redis::AsyncCommands;
use support::redis_server::{redis_url, shared_store};
use tower_anonymous_auth::store::UserStore;
use tower_anonymous_auth::store::{SessionRecord, UserRecord};
use tower_anonymous_auth::User;

const NOW: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_per_anonymous_user() {
    // A prefix as short as the default "taa:", so the figure is the one an app would see.
    let prefix = format!("{}:", &uuid::Uuid::new_v4().simple().to_string()[..3]);
    let store = shared_store("memory").await.with_prefix(prefix);
    // Ids shaped like the layer's: 22 base64url characters, and the guest's first session,
    // which names its user (`{id}.0`).
    let id = "Qx3v9KfT2mLw8ZpR4nYc1A".to_owned();
    let sid = format!("{id}.0");
    // The layer's defaults: the placeholder email and the name the id gives, no password.
    let email = format!("temp-{id}@anonymous.invalid");
    let name = User::default_name(&id);
    let guest = UserRecord::new(User::anonymous(&id, "users", &email, name, NOW))
        .with_expires_at(Some(NOW + 30 * DAY));
    let session = SessionRecord::new(&sid, &id, NOW, NOW + 30 * DAY);
    store
        .insert_user(&guest, Some(&session), NOW)
        .await
        .unwrap();

    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = conn.keys(format!("{}*", store.prefix())).await.unwrap();
    // The placeholder email needs no index key, and the session lives in the user's hash.
    assert_eq!(keys.len(), 1, "one key per guest: {keys:?}");
    let mut total = 0;
    for key in &keys {
        let bytes: usize = redis::cmd("MEMORY")
            .arg(&["USAGE", key.as_str(), "SAMPLES", "0"])
            .query_async(&mut conn)
            .await
            .unwrap();
        let encoding: String = redis::cmd("OBJECT")
            .arg(&["ENCODING", key.as_str()])
            .query_async(&mut conn)
            .await
            .unwrap();
        println!("{key}: {bytes} bytes ({encoding})");
        total += bytes;
    }
    println!("bytes per anonymous user (user with its session): {total}");
    assert_eq!(
        store.get_session(&sid, NOW).await.unwrap(),
        Some(session),
        "the session reads back from the user's hash"
    );
    assert_eq!(store.get_user(&id, NOW).await.unwrap(), Some(guest));
    store.delete_user(&id).await.unwrap();
    assert!(total <= 200, "{total} bytes per anonymous user");
}
