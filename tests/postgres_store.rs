//! The shared store conformance suite against `PostgresStore` (`DATABASE_URL`), each case in
//! a schema of its own, dropped afterwards.

#![cfg(feature = "postgres")]

mod support;

tower_anonymous_auth::store_suite!(
    support::postgres_server::store("suite"),
    |store: std::sync::Arc<tower_anonymous_auth::store::PostgresStore>| async move {
        support::postgres_server::drop_schema(&store).await
    }
);
