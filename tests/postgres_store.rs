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

mod expiry {
    use super::support::postgres_server::{drop_schema, store};
    use tower_anonymous_auth::store::{
        Coordination, EmailCodeRecord, EmailCodeStore, OwnershipStore, SessionRecord, UserRecord,
        UserStore,
    };
    use tower_anonymous_auth::{RateLimit, User};

    const NOW: u64 = 1_700_000_000_000;

    /// `purge_expired` deletes what expired, in batches smaller than the work, and nothing
    /// live; an expired guest goes with its sessions and ownership entries.
    #[tokio::test]
    async fn purge_deletes_expired_rows_in_batches_and_keeps_live_ones() {
        let store = store("purge").await;
        for i in 0..25 {
            let id = format!("g{i}");
            let guest = UserRecord::new(User::anonymous(
                &id,
                "users",
                format!("temp-{id}@x.io"),
                "G",
                NOW,
            ))
            .with_expires_at(Some(NOW + 10));
            let session = SessionRecord::new(format!("{id}.0"), &id, NOW, NOW + 10);
            store
                .insert_user(&guest, Some(&session), NOW)
                .await
                .unwrap();
            let claimed = store.claim(&format!("cart:{id}"), &id).await.unwrap();
            assert!(claimed.is_owned_by_caller());
        }
        let member = UserRecord::new(User::registered("m", "users", "m@x.io", "M", NOW));
        let live = SessionRecord::new("m.0", "m", NOW, NOW + 1_000_000);
        store.insert_user(&member, Some(&live), NOW).await.unwrap();
        assert!(store
            .claim("cart:m", "m")
            .await
            .unwrap()
            .is_owned_by_caller());
        let code = EmailCodeRecord::new("m@x.io", "c", "l", NOW + 10);
        store.put_email_code("k", &code, NOW).await.unwrap();
        let limit = RateLimit::new(1, 60);
        store.rate_limit("ip:1", limit, NOW).await.unwrap();
        assert!(store.acquire_lease("lease", "a", 10, NOW).await.unwrap());

        let report = store.purge_expired(NOW + 100_000, 4).await.unwrap();
        assert_eq!(report.users, 25, "{report:?}");
        assert_eq!(report.email_codes, 1, "{report:?}");
        assert_eq!(report.coordination, 2, "{report:?}");
        assert_eq!(store.owner_of("cart:g3").await.unwrap(), None);
        assert_eq!(
            store.get_session("g3.0", NOW).await.unwrap(),
            None,
            "gone, not just hidden"
        );
        assert_eq!(
            store.owner_of("cart:m").await.unwrap().as_deref(),
            Some("m")
        );
        assert_eq!(
            store.get_session("m.0", NOW + 100_000).await.unwrap(),
            Some(live)
        );
        assert_eq!(
            store.purge_expired(NOW + 100_000, 4).await.unwrap().total(),
            0,
            "nothing left"
        );
        drop_schema(&store).await;
    }

    /// The background purge runs on its own.
    #[tokio::test]
    async fn the_background_purge_removes_expired_sessions() {
        let store = store("purge_task").await;
        let old = SessionRecord::new("old", "nobody", 0, 1);
        store.insert_session(&old).await.unwrap();
        let purge = store.spawn_purge(std::time::Duration::from_millis(20));
        let count = || async {
            let sql = format!("SELECT count(*) FROM \"{}\".sessions", store.schema());
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(store.pool())
                .await
                .unwrap()
        };
        let started = std::time::Instant::now();
        while count().await > 0 {
            assert!(started.elapsed().as_secs() < 10, "the purge never ran");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        purge.abort();
        drop_schema(&store).await;
    }
}

/// A lazy new visitor (the default) costs no SQL at all: with the database out of reach, new
/// visitors are still given guests, and only a write needs PostgreSQL.
mod lazy {
    use super::support::account_app::{spawn_app, AppOptions};
    use std::sync::Arc;
    use tower_anonymous_auth::store::PostgresStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lazy_new_visitor_is_served_without_the_database() {
        // Nothing listens on port 1: any statement would fail (and the layer answer 503).
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_millis(300))
            .connect_lazy("postgres://127.0.0.1:1/test")
            .unwrap();
        let store = PostgresStore::builder(pool).build().unwrap();
        let lazy = AppOptions {
            lazy: true,
            ..AppOptions::default()
        };
        let app = spawn_app(Arc::new(store), lazy).await;
        for _ in 0..20 {
            let me = app.client.fresh().get("/me").await;
            assert_eq!(me.status, 200, "{:?}", me.json);
            assert_eq!(me.json["is_anonymous"], true);
            assert_eq!(me.json["persisted"], false, "nothing written");
        }
        // A write does need the database, and says so.
        let browser = app.client.fresh();
        browser.get("/me").await;
        let claim = browser.post("/claim/cart-1", serde_json::Value::Null).await;
        assert_eq!(claim.status, 503, "{:?}", claim.json);
        assert_eq!(claim.json["code"], "STORE_UNAVAILABLE");
    }
}
