//! A link on PostgreSQL moving 100,000 of the app's rows: 50,000 carts and 50,000 orders of a
//! guest (indexed owner columns), rewritten by `owned_table` in the link's transaction with
//! the guest's registry entries and its deletion. Each round seeds a fresh guest outside the
//! timed part. Run: `cargo bench --bench postgres_link --features postgres` (PostgreSQL at
//! `DATABASE_URL`); prints the time of each round and the median.

use std::time::Instant;
use tower_anonymous_auth::store::{LinkStep, PostgresStore, Store, UserRecord, UserStore};
use tower_anonymous_auth::User;

const ROWS_PER_TABLE: usize = 50_000;
const ROUNDS: usize = 5;

async fn execute(store: &PostgresStore, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("bench SQL");
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_owned());
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("PostgreSQL at DATABASE_URL");
    let schema = format!("bench_link_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::builder(pool)
        .schema(schema.clone())
        .owned_table(format!("{schema}.carts"), "owner_id")
        .owned_table(format!("{schema}.orders"), "user_id")
        .build()
        .expect("store");
    store.migrate().await.expect("migrations");
    let s = format!("\"{schema}\"");
    execute(&store, format!(
        "CREATE TABLE {s}.carts (id BIGSERIAL PRIMARY KEY, owner_id TEXT NOT NULL, sku TEXT NOT NULL);
         CREATE INDEX ON {s}.carts (owner_id);
         CREATE TABLE {s}.orders (id BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, total INT NOT NULL);
         CREATE INDEX ON {s}.orders (user_id);"
    ))
    .await;
    let account = UserRecord::new(User::registered("ann", "users", "ann@x.io", "Ann", 0));
    store.insert_user(&account, None, 0).await.expect("account");
    let mut times = Vec::new();
    for round in 0..ROUNDS {
        let guest = format!("guest{round}");
        let record = UserRecord::new(User::anonymous(
            &guest,
            "users",
            format!("temp-{guest}@x.io"),
            "G",
            0,
        ))
        .with_expires_at(Some(u64::MAX / 2));
        store.insert_user(&record, None, 0).await.expect("guest");
        execute(&store, format!(
            "INSERT INTO {s}.carts (owner_id, sku) SELECT '{guest}', 'sku' || n FROM generate_series(1, {ROWS_PER_TABLE}) n;
             INSERT INTO {s}.orders (user_id, total) SELECT '{guest}', n FROM generate_series(1, {ROWS_PER_TABLE}) n;
             ANALYZE {s}.carts; ANALYZE {s}.orders;"
        ))
        .await;
        let started = Instant::now();
        store
            .complete_link(&LinkStep::new(&guest, "ann"))
            .await
            .expect("link");
        let took = started.elapsed();
        println!(
            "round {}: {} rows moved in {:.1} ms",
            round + 1,
            2 * ROWS_PER_TABLE,
            took.as_secs_f64() * 1e3
        );
        times.push(took);
    }
    times.sort();
    println!(
        "median of {ROUNDS}: {:.1} ms for {} rows across two owned tables",
        times[ROUNDS / 2].as_secs_f64() * 1e3,
        2 * ROWS_PER_TABLE
    );
    execute(&store, format!("DROP SCHEMA {s} CASCADE")).await;
}
