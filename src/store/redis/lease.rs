//! Leases: `P{k:KEY}` holds the holder's token with a TTL, taken (or renewed by its holder) with
//! a compare-and-set; released with a compare-and-delete so a holder never frees a lease another
//! holder took after its own expired.

use super::conn::map_err;
use super::scripts::{DELETE_IF, LEASE_TAKE};
use super::RedisStore;
use crate::store::StoreError;

impl RedisStore {
    pub(super) async fn acquire_lease_impl(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let held: i64 = LEASE_TAKE
            .key(self.keys.lease(key))
            .arg(holder)
            .arg(ttl_ms.max(1))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(held == 1)
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
