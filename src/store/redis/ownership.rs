//! The ownership registry: `claim`, `release`, `owner_of`, `resources_of`.
//!
//! `P{r:RESOURCE}` (owner id) is the single source of truth for who owns a resource;
//! `P{o:OWNER}` is the set of resources listed under an owner.
//!
//! - Single node: one script updates the owner key and the set together, so the sets are
//!   exact at every instant and `resources_of` is a plain `SMEMBERS`.
//! - Cluster: the owner key and the set live in different slots, so no script can update
//!   both. The protocol keeps one invariant instead: **every owned resource is in its owner's
//!   set** (the set may also hold stale entries). A resource is added to the new owner's set
//!   before its owner key changes and removed from the old owner's set only after.
//!   `resources_of` then reads the set and keeps only the members whose owner key still names
//!   the owner. So in cluster mode `resources_of(o)` lists exactly the resources whose owner
//!   key said `o` when it was read, and it never omits a resource owned by `o` for the whole
//!   call: a resource is never listed for an owner that `owner_of` would deny. Readers that
//!   list `from` then `to` during a transfer see every resource at least once; `to` then
//!   `from`, at most once (tests/redis_cluster.rs checks both). A failed cluster claim may
//!   leave a stale set entry; it is filtered out like any other.
//!
//!   Removing a set entry (a `release`, a transfer batch) races with writers that make the
//!   resource the set owner's again (a new `claim`, a transfer into that owner), whose
//!   owner key changes in another slot. Two rules close that race: whoever sets an owner key
//!   to `o` adds the resource to `o`'s set before **and after** the write; whoever removes
//!   entries from `o`'s set reads their owner keys afterwards and adds back those that name
//!   `o`. Either the writer's second add comes after the removal, or the writer's owner key
//!   write came before it and the remover's read sees it.

use super::conn::map_err;
use super::scripts::{CLAIM_SINGLE, DELETE_IF, RELEASE_SINGLE};
use super::RedisStore;
use crate::store::{ClaimOutcome, StoreError};
use redis::AsyncCommands;

/// How many owner keys one `MGET` reads when filtering a cluster owner set.
const READ_CHUNK: usize = 500;

impl RedisStore {
    pub(super) async fn claim_impl(
        &self,
        resource: &str,
        owner: &str,
    ) -> Result<ClaimOutcome, StoreError> {
        let owner_key = self.keys.owner(resource);
        let set_key = self.keys.owned(owner);
        let mut conn = self.conn();
        let current: Option<String> = if self.conn.is_cluster() {
            let current: Option<String> = conn.get(&owner_key).await.map_err(map_err)?;
            if current.is_some() {
                current
            } else {
                // Set entry first (the invariant), then the owner key, if still free, then the
                // set entry again (a concurrent removal from the set may have come between).
                let _: usize = conn.sadd(&set_key, resource).await.map_err(map_err)?;
                let previous: Option<String> = redis::cmd("SET")
                    .arg(&owner_key)
                    .arg(owner)
                    .arg("NX")
                    .arg("GET")
                    .query_async(&mut conn)
                    .await
                    .map_err(map_err)?;
                if previous.is_none() {
                    let _: usize = conn.sadd(&set_key, resource).await.map_err(map_err)?;
                }
                previous
            }
        } else {
            CLAIM_SINGLE
                .key(&owner_key)
                .key(&set_key)
                .arg(owner)
                .arg(resource)
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?
        };
        Ok(match current {
            None => ClaimOutcome::Claimed,
            Some(current) if current == owner => ClaimOutcome::AlreadyOwned,
            Some(current) => ClaimOutcome::OwnedByOther(current),
        })
    }

    pub(super) async fn release_impl(
        &self,
        resource: &str,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let owner_key = self.keys.owner(resource);
        let set_key = self.keys.owned(owner);
        let mut conn = self.conn();
        if !self.conn.is_cluster() {
            let released: i64 = RELEASE_SINGLE
                .key(&owner_key)
                .key(&set_key)
                .arg(owner)
                .arg(resource)
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?;
            return Ok(released == 1);
        }
        // Owner key first: from then on the set entry is stale and filtered out.
        let released: i64 = DELETE_IF
            .key(&owner_key)
            .arg(owner)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        if released == 1 {
            self.remove_from_set(&set_key, owner, std::slice::from_ref(&resource.to_owned()))
                .await?;
        }
        Ok(released == 1)
    }

    /// Cluster only: removes `resources` from `owner`'s set `set_key`, then adds back those
    /// whose owner key names `owner` by then (a concurrent claim or transfer into `owner`:
    /// see the module docs).
    pub(super) async fn remove_from_set(
        &self,
        set_key: &str,
        owner: &str,
        resources: &[String],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let _: usize = conn.srem(set_key, resources).await.map_err(map_err)?;
        let mut back = Vec::new();
        for chunk in resources.chunks(READ_CHUNK) {
            let keys: Vec<String> = chunk.iter().map(|r| self.keys.owner(r)).collect();
            let owners: Vec<Option<String>> = redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            back.extend(
                chunk
                    .iter()
                    .zip(owners)
                    .filter(|(_, current)| current.as_deref() == Some(owner))
                    .map(|(resource, _)| resource),
            );
        }
        if !back.is_empty() {
            let _: usize = conn.sadd(set_key, back).await.map_err(map_err)?;
        }
        Ok(())
    }

    pub(super) async fn owner_of_impl(&self, resource: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .get(self.keys.owner(resource))
            .await
            .map_err(map_err)
    }

    pub(super) async fn resources_of_impl(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let mut members: Vec<String> = conn
            .smembers(self.keys.owned(owner))
            .await
            .map_err(map_err)?;
        if self.conn.is_cluster() {
            let mut owned = Vec::with_capacity(members.len());
            for chunk in members.chunks(READ_CHUNK) {
                let keys: Vec<String> = chunk.iter().map(|r| self.keys.owner(r)).collect();
                let owners: Vec<Option<String>> = redis::cmd("MGET")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(map_err)?;
                owned.extend(
                    chunk
                        .iter()
                        .zip(owners)
                        .filter(|(_, current)| current.as_deref() == Some(owner))
                        .map(|(resource, _)| resource.clone()),
                );
            }
            members = owned;
        }
        members.sort_unstable();
        Ok(members)
    }
}
