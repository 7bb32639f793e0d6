//! The examples' store: `RedisStore` when `REDIS_URL` is set, `MemoryStore` otherwise (purged
//! of expired guests and sessions every minute, so it does not grow with every visitor).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
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
            let store = MemoryStore::new();
            let purged = store.clone();
            tokio::spawn(async move {
                let mut every_minute = tokio::time::interval(Duration::from_secs(60));
                loop {
                    every_minute.tick().await;
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |since| since.as_millis() as u64);
                    purged.purge_expired(now);
                }
            });
            Ok(Arc::new(store))
        }
    }
}
