//! Leases: `P{k:KEY}` holds the holder's token with a TTL (`SET NX PX`); released with a
//! compare-and-delete so a holder never frees a lease another holder took after its own expired.

use super::conn::map_err;
use super::scripts::DELETE_IF;
use super::RedisStore;
use crate::store::StoreError;

impl RedisStore {
    pub(super) async fn acquire_lease_impl(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let key = self.keys.lease(key);
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        if set.is_some() {
            return Ok(true);
        }
        // Re-entrant for the same holder.
        let current: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(current.as_deref() == Some(holder))
    }

    pub(super) async fn release_lease_impl(
        &self,
        key: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        let _: i64 = DELETE_IF
            .key(self.keys.lease(key))
            .arg(holder)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
