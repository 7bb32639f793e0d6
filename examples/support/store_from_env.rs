//! The examples' store: `RedisStore` when `REDIS_URL` is set, `MemoryStore` otherwise.

use std::sync::Arc;
use tower_anonymous_auth::store::RedisStore;
use tower_anonymous_auth::{MemoryStore, Store, StoreError};

/// Connects to `REDIS_URL` if set (keys under `REDIS_PREFIX`, default `taa:`), else makes an
/// in-memory store.
pub async fn store_from_env() -> Result<Arc<dyn Store>, StoreError> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            let prefix = std::env::var("REDIS_PREFIX").unwrap_or_else(|_| "taa:".into());
            let store = RedisStore::connect(&url).await?.with_prefix(prefix);
            println!("store: Redis at {url}");
            Ok(Arc::new(store))
        }
        _ => {
            println!("store: in memory (set REDIS_URL to use Redis)");
            Ok(Arc::new(MemoryStore::new()))
        }
    }
}
