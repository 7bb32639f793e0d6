//! What the load servers (`src/main.rs`) and the instruction counter
//! (`src/bin/instructions.rs`) share: the layer's configuration per variant and the handler.

use axum::routing::get;
use axum::Router;
use std::time::Duration;
use tower_anonymous_auth::{AnonymousAuthConfig, Auth};

/// The layer's configuration for a variant: the defaults (lazy persistence; on RedisStore the
/// session memo its revocation feed keeps current), with `-eager` storing every guest as it
/// is minted, `-cached` adding a 60 s memo (on MemoryStore), `-nomemo` turning the memo off.
/// No mint rate limit (one client IP makes all the load).
pub fn config(variant: &str) -> AnonymousAuthConfig {
    let mut builder = AnonymousAuthConfig::builder()
        .key("load", [5u8; 32])
        .secure(false)
        .mint_rate_limit(None);
    if variant.contains("-eager") {
        builder = builder.lazy_persistence(false);
    }
    if variant.ends_with("-cached") {
        builder = builder.session_cache_ttl(Duration::from_secs(60));
    }
    if variant.ends_with("-nomemo") {
        builder = builder.session_cache_ttl(Duration::ZERO);
    }
    builder.build().expect("config")
}

/// The cheap page behind our layer: reads the visitor's id.
pub async fn ours(auth: Option<Auth>) -> String {
    match auth {
        Some(auth) => format!("hello {}", auth.user().id),
        None => "hello".into(),
    }
}

/// The peer's page: axum + tower-sessions doing the same auto-guest (a user id inserted in
/// the session when absent, which stores the session).
pub async fn guest_session(session: tower_sessions::Session) -> String {
    let id: Option<String> = session.get("uid").await.ok().flatten();
    let id = match id {
        Some(id) => id,
        None => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let _ = session.insert("uid", &id).await;
            id
        }
    };
    format!("hello {id}")
}

/// The bare baseline: axum with the same route and no auth.
pub fn bare() -> Router {
    Router::new().route("/", get(|| async { "hello guest" }))
}
