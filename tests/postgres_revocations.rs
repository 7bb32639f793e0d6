//! Two app instances on one PostgreSQL schema, each with the session memo that PostgresStore
//! keeps on by default (fed by `NOTIFY`): a sign-out on one instance is refused by the other
//! within milliseconds; a revocation while the feed is down is still refused; a schema that
//! does not announce revocations (not migrated) never lets the memo vouch for a session.

#![cfg(feature = "postgres")]

mod support;

use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::account_app::{spawn_app, AppOptions, TestApp};
use support::http_client::TestClient;
use support::postgres_server::{drop_schema, pool, store};
use tower_anonymous_auth::store::PostgresStore;
use tower_anonymous_auth::Store;

/// Two instances (each its own pool, store and layer) on one migrated schema; the store of
/// instance A, to reach the schema with.
async fn two_instances(test: &str, options: AppOptions) -> (TestApp, TestApp, PostgresStore) {
    let a = store(test).await;
    two_instances_on(a, options).await
}

async fn two_instances_on(
    a: PostgresStore,
    options: AppOptions,
) -> (TestApp, TestApp, PostgresStore) {
    let b = PostgresStore::builder(pool().await)
        .schema(a.schema())
        .build()
        .unwrap();
    let app_a = spawn_app(Arc::new(a.clone()) as Arc<dyn Store>, options.clone()).await;
    let app_b = spawn_app(Arc::new(b) as Arc<dyn Store>, options).await;
    (app_a, app_b, a)
}

/// A registered visitor on `app`: its browser and its `/me`.
async fn registered(app: &TestApp, email: &str) -> (TestClient, Value) {
    let client = app.client.fresh();
    let body = serde_json::json!({ "email": email, "password": "correct horse battery" });
    let response = client.post("/register", body).await;
    assert_eq!(response.status, 200, "{:?}", response.json);
    (client, response.json)
}

/// Who `browser` is on its server, from a copy of its cookies (a refused token mints a new
/// guest, which must not replace the cookie under test).
async fn who(browser: &TestClient) -> String {
    let me = browser.fork().get("/me").await.json;
    me["id"].as_str().unwrap_or_default().to_owned()
}

/// Polls until `browser` is no longer `user_id`; how long that took.
async fn until_refused(browser: &TestClient, user_id: &str) -> Duration {
    let started = Instant::now();
    while who(browser).await == user_id {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the revoked token still works after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

/// Lets the instances' revocation feeds connect (they start with the layer).
async fn feeds_connected() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Deletes `me`'s session behind the store's back, with the announcing trigger disabled for
/// that one transaction: an instance that still accepts the session answers from its memo.
async fn delete_unannounced(store: &PostgresStore, me: &Value) {
    let table = format!("\"{}\".sessions", store.schema());
    let mut tx = store.pool().begin().await.unwrap();
    let disable = format!("ALTER TABLE {table} DISABLE TRIGGER sessions_revoked");
    sqlx::raw_sql(sqlx::AssertSqlSafe(disable))
        .execute(&mut *tx)
        .await
        .unwrap();
    let delete = format!("DELETE FROM {table} WHERE id = $1");
    let deleted = sqlx::query(sqlx::AssertSqlSafe(delete))
        .bind(me["session_id"].as_str().unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 1, "the session was deleted");
    let enable = format!("ALTER TABLE {table} ENABLE TRIGGER sessions_revoked");
    sqlx::raw_sql(sqlx::AssertSqlSafe(enable))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Terminates every backend listening on `store`'s revocation channel; how many.
async fn kill_feeds(store: &PostgresStore) -> i64 {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
          WHERE query = format('LISTEN %I', $1::text)",
    )
    .bind(format!("{}.revoked", store.schema()))
    .fetch_one(store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_on_one_instance_is_refused_by_another_within_50_ms() {
    let (a, b, store) = two_instances("revocations", AppOptions::default()).await;
    feeds_connected().await;
    // The memo is in use: a session deleted without announcement still works on B.
    let (browser, me) = registered(&a, "memo@example.com").await;
    let on_b = browser.fork_to(&b.client);
    let id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&on_b).await, id);
    delete_unannounced(&store, &me).await;
    assert_eq!(who(&on_b).await, id, "B answers from its memo");

    let (browser, me) = registered(&a, "ann@example.com").await;
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
    drop_schema(&store).await;
}

/// A lazy guest (nothing of it stored) signed out on A: B, whose memo vouched for its token,
/// refuses it at once too (its session row never existed, yet the revocation is announced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_guest_signed_out_on_one_instance_is_refused_by_another() {
    let lazy = AppOptions {
        lazy: true,
        ..AppOptions::default()
    };
    let (a, b, store) = two_instances("revocations_lazy", lazy).await;
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
    drop_schema(&store).await;
}

/// The feeds' connections are terminated and a session revoked while they are down: B, which
/// had the session in its memo, refuses it; once the feed is back, B's memo works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_while_the_feed_is_down_is_still_refused() {
    let (a, b, store) = two_instances("feed_down", AppOptions::default()).await;
    feeds_connected().await;
    let (browser, me) = registered(&a, "bob@example.com").await;
    let on_b = browser.fork_to(&b.client);
    let id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&on_b).await, id);
    assert_eq!(who(&on_b).await, id);

    assert_eq!(kill_feeds(&store).await, 2, "both feeds terminated");
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
    delete_unannounced(&store, &me).await;
    assert_eq!(
        who(&on_b).await,
        id,
        "B trusts its memo again once its feed is back"
    );
    drop_schema(&store).await;
}

/// A schema without the announcing trigger (an app that upgraded the crate but has not run
/// `migrate()`): the feed never calls itself connected, so every request asks the database
/// and a session deleted there is refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_trigger_the_memo_never_vouches_for_a_session() {
    let migrated = store("no_trigger").await;
    let drop_trigger = format!(
        "DROP TRIGGER sessions_revoked ON \"{}\".sessions",
        migrated.schema()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop_trigger))
        .execute(migrated.pool())
        .await
        .unwrap();
    let (a, b, store) = two_instances_on(migrated, AppOptions::default()).await;
    feeds_connected().await;
    let (browser, me) = registered(&a, "dan@example.com").await;
    let on_b = browser.fork_to(&b.client);
    let id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&on_b).await, id);
    assert_eq!(who(&on_b).await, id);
    let deleted = format!("DELETE FROM \"{}\".sessions", store.schema());
    sqlx::raw_sql(sqlx::AssertSqlSafe(deleted))
        .execute(store.pool())
        .await
        .unwrap();
    assert_ne!(who(&on_b).await, id, "B asked the database");
    drop_schema(&store).await;
}
