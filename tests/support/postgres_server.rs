//! PostgreSQL for the integration tests: the server at `DATABASE_URL`, each test in a schema
//! of its own (created by the store's migrations, dropped afterwards), so tests run in
//! parallel on one database.

use tower_anonymous_auth::store::PostgresStore;

/// `DATABASE_URL`, or the local default (trust auth, database `test`).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_owned())
}

/// A pool on the test database. Panics when it is unreachable: a test without PostgreSQL
/// fails, it does not pass silently.
pub async fn pool() -> sqlx::PgPool {
    let url = database_url();
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach PostgreSQL at {url}: {err}"))
}

/// A schema name no other test uses.
pub fn unique_schema(test: &str) -> String {
    format!("t_{test}_{}", uuid::Uuid::new_v4().simple())
}

/// A migrated store in a fresh schema, with `configure` applied to its builder.
pub async fn store_with(
    test: &str,
    configure: impl FnOnce(
        tower_anonymous_auth::store::PostgresStoreBuilder,
    ) -> tower_anonymous_auth::store::PostgresStoreBuilder,
) -> PostgresStore {
    let store = configure(PostgresStore::builder(pool().await).schema(unique_schema(test)))
        .build()
        .expect("a valid store configuration");
    store.migrate().await.expect("migrations apply");
    store
}

/// A migrated store in a fresh schema.
pub async fn store(test: &str) -> PostgresStore {
    store_with(test, |builder| builder).await
}

/// Drops the store's schema and everything in it.
pub async fn drop_schema(store: &PostgresStore) {
    let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", store.schema());
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("drop the test schema");
}

/// [`store`] as the `Arc<dyn Store>` the account suites want (its schema stays behind: small,
/// and named `t_{test}_...` so it is easy to drop).
pub async fn dyn_store(test: &str) -> std::sync::Arc<dyn tower_anonymous_auth::store::Store> {
    std::sync::Arc::new(store(test).await)
}
