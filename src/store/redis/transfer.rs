//! `transfer`: moving every resource of one owner to another, in batches.
//!
//! Both modes loop: pick up to [`BATCH`] members of the from-set (`SRANDMEMBER`), move them,
//! until the from-set is empty. No call handles more than one batch, so a transfer of any size
//! never blocks Redis for more than the time of one batch (about a millisecond for 500).
//! The from-set itself is the work list (the journal): whatever an interrupted transfer did
//! not finish is still in it, so calling `transfer` again finishes the job.
//!
//! - Single node: one script per batch ([`TRANSFER_BATCH_SINGLE`]) moves each resource's
//!   owner key and its set membership together, so every reader, at every instant, sees each
//!   resource owned by exactly one of the two users and listed in exactly one of their sets.
//!   The script removes a resource from the from-set before moving it, so two concurrent
//!   transfers never move the same resource twice.
//! - Cluster: the owner keys of a batch live in many slots, so one script cannot cover them.
//!   Per batch: (1) `SADD` the batch to the to-set (to's slot); (2) for each resource, a
//!   compare-and-set on its owner key, `from` -> `to` ([`SET_IF`], in the resource's slot),
//!   and the moved ones added to the to-set again; (3) `SREM` the batch from the from-set
//!   (from's slot), then add back those whose owner key names `from` by then (claimed by the
//!   guest meanwhile: the next batch moves them). The adds after the writes and the check
//!   after the removal are what keeps a concurrent claim's set entry (see
//!   [`ownership`](super::ownership)). Step 2 is the moment a resource
//!   changes owner, atomically for `owner_of`; repeating any step is a no-op, so a retry or a
//!   concurrent transfer counts each resource exactly once (only the winning compare-and-set
//!   counts). The set invariant of [`ownership`](super::ownership) holds between every two
//!   steps, so `resources_of` (which filters by owner key) never lists a resource under both.
//!
//! Why no separate journal key: a journal in from's slot would have to name the work still to
//! do, which is exactly what the from-set already holds, in the same slot, updated after each
//! batch. A crash after step 1 leaves stale to-set entries (filtered out, and picked up again
//! by the retry); after step 2, resources owned by `to` still in the from-set (the retry's
//! compare-and-set fails, so they are not counted twice, and step 3 drops them).
//!
//! A guest's own claims landing during its transfer are never stranded: each either moves
//! with a batch or stays in the from-set for the next one (tests/redis_cluster.rs runs that
//! race for many rounds).

use super::conn::map_err;
use super::scripts::{SET_IF, TRANSFER_BATCH_SINGLE};
use super::RedisStore;
use crate::store::{StoreError, TransferReport};
use futures::{StreamExt, TryStreamExt};
use redis::AsyncCommands;

/// Resources per batch (per script call on a single node).
pub(crate) const BATCH: isize = 500;
/// Concurrent per-resource compare-and-sets in cluster mode.
const CLUSTER_CONCURRENCY: usize = 64;

impl RedisStore {
    pub(super) async fn transfer_impl(
        &self,
        from: &str,
        to: &str,
    ) -> Result<TransferReport, StoreError> {
        if from == to {
            return Ok(TransferReport::default());
        }
        let from_set = self.keys.owned(from);
        let to_set = self.keys.owned(to);
        let mut conn = self.conn();
        let mut moved = 0;
        loop {
            let batch: Vec<String> = conn
                .srandmember_multiple(&from_set, BATCH)
                .await
                .map_err(map_err)?;
            if batch.is_empty() {
                return Ok(TransferReport { moved });
            }
            moved += if self.conn.is_cluster() {
                self.move_batch_cluster(&from_set, &to_set, from, to, &batch)
                    .await?
            } else {
                self.move_batch_single(&from_set, &to_set, from, to, &batch)
                    .await?
            };
        }
    }

    async fn move_batch_single(
        &self,
        from_set: &str,
        to_set: &str,
        from: &str,
        to: &str,
        batch: &[String],
    ) -> Result<usize, StoreError> {
        let mut invocation = TRANSFER_BATCH_SINGLE.key(from_set);
        invocation.key(to_set).arg(from).arg(to);
        for resource in batch {
            invocation.key(self.keys.owner(resource)).arg(resource);
        }
        invocation
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)
    }

    async fn move_batch_cluster(
        &self,
        from_set: &str,
        to_set: &str,
        from: &str,
        to: &str,
        batch: &[String],
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let _: usize = conn.sadd(to_set, batch).await.map_err(map_err)?;
        let moves: Vec<_> = batch
            .iter()
            .map(|resource| {
                let mut conn = self.conn();
                let key = self.keys.owner(resource);
                async move {
                    let moved = SET_IF
                        .key(key)
                        .arg(from)
                        .arg(to)
                        .invoke_async::<usize>(&mut conn)
                        .await?;
                    Ok::<_, redis::RedisError>((moved == 1).then_some(resource))
                }
            })
            .collect();
        let moved: Vec<&String> = futures::stream::iter(moves)
            .buffer_unordered(CLUSTER_CONCURRENCY)
            .try_filter_map(|moved| async move { Ok(moved) })
            .try_collect()
            .await
            .map_err(map_err)?;
        if !moved.is_empty() {
            let _: usize = conn.sadd(to_set, &moved).await.map_err(map_err)?;
        }
        self.remove_from_set(from_set, from, batch).await?;
        Ok(moved.len())
    }
}
