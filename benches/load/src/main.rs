//! One server per variant of the load comparison (see `benches/load.sh`):
//!
//! `load-compare <variant> <addr>` where variant is one of
//! - `bare`: axum, no auth at all (the baseline);
//! - `sessions-redis`, `sessions-memory`: axum + tower-sessions 0.14 on
//!   tower-sessions-redis-store 0.16 / its MemoryStore, doing the same auto-guest (insert a
//!   user id in the session when absent, which stores the session);
//! - `ours-memory`, `ours-redis`: axum + AnonymousAuthLayer on MemoryStore / RedisStore with
//!   the default configuration (lazy persistence: a new visitor costs no store write; on
//!   RedisStore the session memo its revocation feed keeps current);
//! - `-eager` (`ours-memory-eager`, `ours-redis-eager`): every guest stored as it is minted,
//!   the stored new visitor; `-nomemo`: the session memo off (see `load_compare::config`).
//!
//! Every variant serves `GET /` (a cheap page that reads the visitor's id); ours also serve
//! `POST /sign-in` (a password sign-in: an argon2id verification).

use axum::routing::{get, post};
use axum::Router;
use load_compare::{config, guest_session, ours};
use std::net::SocketAddr;
use tower_anonymous_auth::{AnonymousAuthLayer, AuthHandle, MemoryStore};

/// A password sign-in through the crate (argon2id with OWASP parameters, on
/// `spawn_blocking`): an unknown email, so the dummy hash is verified at full cost.
async fn sign_in(handle: AuthHandle) -> &'static str {
    match handle
        .sign_in_with_password("nobody@example.com", "not the password")
        .await
    {
        Ok(_) => "signed in",
        Err(_) => "invalid credentials",
    }
}

/// Both PostgreSQL servers get pools of this size (wrk keeps 16 connections open).
const POSTGRES_CONNECTIONS: u32 = 8;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "bare".into());
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:3100".into())
        .parse()?;
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into());
    let base = Router::new();
    let ours_base = Router::new().route("/sign-in", post(sign_in));
    let app = match variant.as_str() {
        "bare" => load_compare::bare(),
        "sessions-redis" => {
            use tower_sessions_redis_store::fred::prelude::*;
            let pool = Pool::new(Config::from_url(&redis_url)?, None, None, None, 2)?;
            pool.init().await?;
            let store = tower_sessions_redis_store::RedisStore::new(pool);
            base.route("/", get(guest_session))
                .layer(tower_sessions::SessionManagerLayer::new(store).with_secure(false))
        }
        "sessions-memory" => base.route("/", get(guest_session)).layer(
            tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
                .with_secure(false),
        ),
        _ if variant.starts_with("ours-memory") => {
            ours_base
                .route("/", get(ours))
                .layer(AnonymousAuthLayer::new(
                    MemoryStore::new(),
                    config(&variant),
                ))
        }
        _ if variant.starts_with("ours-redis") => {
            // The default key prefix, as an app would have it: the scripts start a Redis of
            // their own for each run, so there is nothing to keep apart.
            let store = tower_anonymous_auth::store::RedisStore::connect(&redis_url).await?;
            ours_base
                .route("/", get(ours))
                .layer(AnonymousAuthLayer::new(store, config(&variant)))
        }
        "sessions-postgres" => {
            // tower-sessions-sqlx-store on the same database, its table emptied first so
            // that every run starts alike.
            use tower_sessions_sqlx_store::sqlx;
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(POSTGRES_CONNECTIONS)
                .connect(&database_url)
                .await?;
            let store = tower_sessions_sqlx_store::PostgresStore::new(pool.clone());
            store.migrate().await?;
            sqlx::query("TRUNCATE tower_sessions.session")
                .execute(&pool)
                .await?;
            base.route("/", get(guest_session))
                .layer(tower_sessions::SessionManagerLayer::new(store).with_secure(false))
        }
        _ if variant.starts_with("ours-postgres") => {
            // A schema of this process's own, so every run starts empty.
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(POSTGRES_CONNECTIONS)
                .connect(&database_url)
                .await?;
            let store = tower_anonymous_auth::store::PostgresStore::builder(pool)
                .schema(format!("load_{}", std::process::id()))
                .build()?;
            store.migrate().await?;
            ours_base
                .route("/", get(ours))
                .layer(AnonymousAuthLayer::new(store, config(&variant)))
        }
        other => return Err(format!("unknown variant {other}").into()),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("{variant} listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
