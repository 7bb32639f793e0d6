//! Two app instances on one PostgreSQL schema, each with the session memo that PostgresStore
//! keeps on by default (fed by `NOTIFY`): a sign-out on one instance is refused by the other
//! within milliseconds; a revocation while the feed is down is still refused; a schema that
//! does not announce revocations (not migrated) never lets the memo vouch for a session.

#![cfg(feature = "postgres")]

mod support;

use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use support::account_app::{spawn_app, AppOptions, TestApp};
use support::postgres_server::{drop_schema, pool, store};
use support::two_instances::{registered, until_refused, who};
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

/// Lets the instances' revocation feeds connect (they start with the layer).
async fn feeds_connected() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Runs the statements `sql` on `on` (a pool or a transaction), which must succeed.
async fn execute<'c>(on: impl sqlx::PgExecutor<'c>, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(on)
        .await
        .unwrap();
}

/// Deletes `me`'s session behind the store's back, with the announcing trigger disabled for
/// that one transaction: an instance that still accepts the session answers from its memo.
async fn delete_unannounced(store: &PostgresStore, me: &Value) {
    let table = format!("\"{}\".sessions", store.schema());
    let mut tx = store.pool().begin().await.unwrap();
    let disable = format!("ALTER TABLE {table} DISABLE TRIGGER sessions_revoked");
    execute(&mut *tx, disable).await;
    let delete = format!("DELETE FROM {table} WHERE id = $1");
    let deleted = sqlx::query(sqlx::AssertSqlSafe(delete))
        .bind(me["session_id"].as_str().unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 1, "the session was deleted");
    let enable = format!("ALTER TABLE {table} ENABLE TRIGGER sessions_revoked");
    execute(&mut *tx, enable).await;
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
    execute(migrated.pool(), drop_trigger).await;
    let (a, b, store) = two_instances_on(migrated, AppOptions::default()).await;
    feeds_connected().await;
    let (browser, me) = registered(&a, "dan@example.com").await;
    let on_b = browser.fork_to(&b.client);
    let id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&on_b).await, id);
    assert_eq!(who(&on_b).await, id);
    let deleted = format!("DELETE FROM \"{}\".sessions", store.schema());
    execute(store.pool(), deleted).await;
    assert_ne!(who(&on_b).await, id, "B asked the database");
    drop_schema(&store).await;
}
