//! A link on `PostgresStore` with the app's own tables (`owned_table`) and an in-transaction
//! hook, over real HTTP: the rows move with the link, the hook's merge commits or rolls back
//! with it, and a connection killed mid-link (`pg_terminate_backend`) leaves nothing moved
//! until a retry completes the link.

#![cfg(feature = "postgres")]

mod support;

use hyper::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::account_app::{now_ms, spawn_app, AppOptions, TestApp};
use support::http_client::{TestClient, TestResponse};
use support::postgres_server::{drop_schema, store_with, unique_schema};
use support::visitors::id;
use tower_anonymous_auth::store::{OwnershipStore, PostgresStore, UserStore};

const PASSWORD: &str = "correct horse";

/// A shop on PostgreSQL: carts and orders in the store's schema, moved by `owned_table`. The
/// in-transaction hook drops the guest's cart items the account already has, then fails
/// while `failures` is above zero (after its delete, so that a rollback shows).
async fn shop(test: &str, failures: usize) -> (TestApp, PostgresStore) {
    let failures = Arc::new(AtomicUsize::new(failures));
    let schema = unique_schema(test);
    let quoted = format!("\"{schema}\"");
    let store = store_with(test, |builder| {
        builder
            .schema(schema.clone())
            .owned_table(format!("{schema}.carts"), "owner_id")
            .owned_table(format!("{schema}.orders"), "user_id")
            .on_link_in_transaction(move |conn, link| {
                let merge = format!(
                    "DELETE FROM {quoted}.carts g USING {quoted}.carts a
                     WHERE g.owner_id = $1 AND a.owner_id = $2 AND a.sku = g.sku"
                );
                let failures = failures.clone();
                Box::pin(async move {
                    sqlx::query(sqlx::AssertSqlSafe(merge))
                        .bind(&link.guest_id)
                        .bind(&link.account_id)
                        .execute(&mut *conn)
                        .await
                        .map_err(|err| err.to_string())?;
                    let fail = failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if fail {
                        return Err("the merge failed".to_owned());
                    }
                    Ok(())
                })
            })
    })
    .await;
    let schema = format!("\"{schema}\"");
    execute(
        store.pool(),
        &format!("CREATE TABLE {schema}.carts (id SERIAL PRIMARY KEY, owner_id TEXT NOT NULL, sku TEXT NOT NULL)"),
    )
    .await;
    execute(
        store.pool(),
        &format!("CREATE TABLE {schema}.orders (id SERIAL PRIMARY KEY, user_id TEXT NOT NULL, total INT NOT NULL)"),
    )
    .await;
    let app = spawn_app(Arc::new(store.clone()), AppOptions::default()).await;
    (app, store)
}

async fn execute(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// The shop's rows as `(table, owner, sku or total)`, sorted.
async fn rows(store: &PostgresStore) -> Vec<(String, String, String)> {
    let schema = format!("\"{}\"", store.schema());
    let sql = format!(
        "SELECT 'cart', owner_id, sku FROM {schema}.carts
         UNION ALL SELECT 'order', user_id, total::text FROM {schema}.orders
         ORDER BY 1, 2, 3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap()
}

async fn me(client: &TestClient) -> Value {
    client.get("/me").await.json
}

async fn sign_in(client: &TestClient) -> TestResponse {
    client
        .post(
            "/sign-in",
            json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await
}

/// Ann's account with an apple in her cart, and a guest with an apple, a pear, an order and
/// a claimed resource. Returns the guest's client, the guest's id and ann's id.
async fn ann_and_a_guest(app: &TestApp, store: &PostgresStore) -> (TestClient, String, String) {
    let ann = app.client.fresh();
    let registered = ann
        .post(
            "/register",
            json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{:?}", registered.json);
    let ann_id = id(&registered.json);
    let guest = app.client.fresh();
    let guest_id = id(&me(&guest).await);
    let claimed = guest.post("/claim/cart:guest", Value::Null).await;
    assert_eq!(claimed.status, StatusCode::OK, "{:?}", claimed.json);
    let schema = format!("\"{}\"", store.schema());
    execute(
        store.pool(),
        &format!(
            "INSERT INTO {schema}.carts (owner_id, sku) VALUES ('{ann_id}', 'apple'),
                 ('{guest_id}', 'apple'), ('{guest_id}', 'pear');
             INSERT INTO {schema}.orders (user_id, total) VALUES ('{guest_id}', 42)"
        ),
    )
    .await;
    (guest, guest_id, ann_id)
}

fn guest_rows(guest: &str, ann: &str) -> Vec<(String, String, String)> {
    let row = |table: &str, owner: &str, value: &str| (table.into(), owner.into(), value.into());
    let mut rows = vec![
        row("cart", ann, "apple"),
        row("cart", guest, "apple"),
        row("cart", guest, "pear"),
        row("order", guest, "42"),
    ];
    rows.sort();
    rows
}

fn linked_rows(ann: &str) -> Vec<(String, String, String)> {
    let row = |table: &str, value: &str| (table.into(), ann.into(), value.into());
    vec![
        row("cart", "apple"),
        row("cart", "pear"),
        row("order", "42"),
    ]
}

/// Nothing of the link happened: rows, registry and guest as before.
async fn assert_nothing_moved(store: &PostgresStore, guest_id: &str, ann_id: &str) {
    assert_eq!(rows(store).await, guest_rows(guest_id, ann_id));
    assert_eq!(
        store.owner_of("cart:guest").await.unwrap().as_deref(),
        Some(guest_id)
    );
    assert!(store.get_user(guest_id, now_ms()).await.unwrap().is_some());
}

/// Everything of the link happened, once.
async fn assert_linked(store: &PostgresStore, guest_id: &str, ann_id: &str) {
    assert_eq!(rows(store).await, linked_rows(ann_id));
    assert_eq!(
        store.owner_of("cart:guest").await.unwrap().as_deref(),
        Some(ann_id)
    );
    assert!(store.get_user(guest_id, now_ms()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_link_moves_the_apps_rows_and_merges_them_in_its_transaction() {
    let (app, store) = shop("link_rows", 0).await;
    let (guest, guest_id, ann_id) = ann_and_a_guest(&app, &store).await;
    let response = sign_in(&guest).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    assert_eq!(id(&response.json), ann_id);
    assert_linked(&store, &guest_id, &ann_id).await;
    drop_schema(&store).await;
}

#[tokio::test]
async fn a_failing_hook_rolls_the_whole_link_back_and_a_retry_completes_it() {
    let (app, store) = shop("link_hook", 1).await;
    let (guest, guest_id, ann_id) = ann_and_a_guest(&app, &store).await;
    let failed = sign_in(&guest).await;
    assert_eq!(failed.json["code"], "LINK_FAILED", "{:?}", failed.json);
    // The hook's own delete rolled back with the rest.
    assert_nothing_moved(&store, &guest_id, &ann_id).await;
    assert_eq!(id(&me(&guest).await), guest_id, "still the guest");
    let retried = sign_in(&guest).await;
    assert_eq!(retried.status, StatusCode::OK, "{:?}", retried.json);
    assert_linked(&store, &guest_id, &ann_id).await;
    drop_schema(&store).await;
}

#[tokio::test]
async fn a_connection_killed_mid_link_moves_nothing_and_a_retry_completes_it() {
    let (app, store) = shop("link_crash", 0).await;
    let (guest, guest_id, ann_id) = ann_and_a_guest(&app, &store).await;
    // Hold the guest's order row, so the link stops at the orders rewrite: by then its
    // transaction has run the hook, moved the registry and rewritten the carts.
    let mut holder = store.pool().begin().await.unwrap();
    let schema = format!("\"{}\"", store.schema());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM {schema}.orders WHERE user_id = '{guest_id}' FOR UPDATE"
    )))
    .execute(&mut *holder)
    .await
    .unwrap();
    let link = tokio::spawn({
        let guest = guest.fork();
        async move { sign_in(&guest).await }
    });
    let waiting = format!("UPDATE {schema}.\"orders\"%");
    let started = Instant::now();
    let pid = loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
        )
        .bind(&waiting)
        .fetch_optional(store.pool())
        .await
        .unwrap();
        if let Some(pid) = pid {
            break pid;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the link never reached the orders rewrite"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(killed);
    let crashed = link.await.unwrap();
    assert_ne!(crashed.status, StatusCode::OK, "{:?}", crashed.json);
    holder.rollback().await.unwrap();
    assert_nothing_moved(&store, &guest_id, &ann_id).await;
    let retried = sign_in(&guest).await;
    assert_eq!(retried.status, StatusCode::OK, "{:?}", retried.json);
    assert_eq!(id(&retried.json), ann_id);
    assert_linked(&store, &guest_id, &ann_id).await;
    drop_schema(&store).await;
}
