//! Index hygiene: releasing the ownership entries of guests that Redis has evicted.
//!
//! A guest's user and session keys carry a Redis TTL, so Redis evicts an idle guest by
//! itself. Its ownership keys do not (`P{r:RESOURCE}` must never vanish under a live owner, and
//! a TTL cannot follow the owner's sliding expiry across slots), so the resources of an
//! evicted guest would stay owned by a user that no longer exists.
//! [`RedisStore::sweep_orphaned_ownership`] finds and releases them.
//!
//! # The sweep, step by step
//!
//! 1. `SCAN` (with `COUNT`, never `KEYS`) for the owner sets `P{o:*}` under the store's prefix.
//!    On a cluster every primary is scanned with its own cursor: the primaries are those the
//!    cluster client currently routes to (a command routed to all primaries reports their
//!    addresses), and each `SCAN` is routed to one of them by address.
//! 2. For each owner set, the owner is orphaned when its user hash `P{u:OWNER}` does not exist.
//!    Registered users never expire, so their hash always exists and their ownership is never
//!    touched; a guest that is still alive is not touched either.
//! 3. For each resource listed in an orphaned owner's set (read with `SSCAN`), the owner key is
//!    deleted only if it still names that owner (compare-and-delete, one single-slot script),
//!    and then the entry leaves the set (`SREM`). A resource that moved to another owner in
//!    the meantime keeps its new owner; the set disappears with its last entry.
//!
//! # Why it is safe to run at any time
//!
//! A guest's user hash is written before the guest can own anything (a lazy guest is stored at
//! its first claim, before the claim), and it is deleted only after its resources were
//! transferred (the link flow). So a set whose owner hash is missing belongs to a guest that
//! expired or was deleted, and every write the sweep makes is conditional on the owner key
//! still naming that dead owner. Nothing a live user owns can be released.
//!
//! Keys that migrate between cluster nodes while a sweep runs may be missed by that sweep; the
//! next one finds them.

use super::conn::{map_err, Conn};
use super::scripts::DELETE_IF;
use super::RedisStore;
use crate::store::StoreError;
use futures::stream::{self, StreamExt, TryStreamExt};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{AsyncCommands, Value};

/// How many keys one `SCAN` / `SSCAN` step asks for.
const SCAN_COUNT: usize = 500;
/// How many owner checks (`EXISTS`) one sweep keeps in flight.
const EXISTS_IN_FLIGHT: usize = 32;

/// What one [`RedisStore::sweep_orphaned_ownership`] did.
///
/// ```
/// use tower_anonymous_auth::store::SweepReport;
///
/// let report = SweepReport::default();
/// assert_eq!(report.orphaned_owners, 0);
/// assert_eq!(report.released_resources, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SweepReport {
    /// Owner sets found under the prefix (live and orphaned owners).
    pub owners_scanned: usize,
    /// Owners whose user no longer exists; their sets were cleared.
    pub orphaned_owners: usize,
    /// Resources whose owner key named an orphaned owner and was deleted: they are free again.
    pub released_resources: usize,
    /// Entries of orphaned owners' sets whose resource had already moved on (owned by someone
    /// else or by nobody); only the stale entry was removed.
    pub stale_entries: usize,
}

impl RedisStore {
    /// Releases the ownership entries of owners that no longer exist: guests that Redis
    /// evicted after their anonymous lifetime (their user and session keys carry a TTL, their
    /// ownership keys do not). Registered users never expire, so what they own is never
    /// touched; neither is anything a live guest owns. A user the app deleted with
    /// [`UserStore::delete_user`](crate::store::UserStore::delete_user) while it still owned resources is gone
    /// too, so its resources are released as well (`MemoryStore::purge_expired` only releases
    /// what expired guests owned).
    ///
    /// It scans the keyspace with `SCAN ... COUNT` (never `KEYS`), on every primary of a
    /// cluster, and deletes an owner key only while it still names the dead owner, so it is
    /// safe to run at any time, from several app instances at once. Its cost grows with the
    /// number of owner sets, not with the traffic: run it periodically, for example every hour.
    /// A failure ([`StoreError::Unavailable`] when Redis is down) leaves nothing half-done
    /// that the next run would not finish.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_anonymous_auth::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), tower_anonymous_auth::StoreError> {
    /// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
    /// let sweeper = store.clone();
    /// tokio::spawn(async move {
    ///     let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    ///     loop {
    ///         every_hour.tick().await;
    ///         match sweeper.sweep_orphaned_ownership().await {
    ///             Ok(report) => tracing::info!(?report, "ownership sweep"),
    ///             Err(error) => tracing::warn!(%error, "ownership sweep failed; next hour"),
    ///         }
    ///     }
    /// });
    /// # Ok(()) }
    /// ```
    pub async fn sweep_orphaned_ownership(&self) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let pattern = format!("{}{{o:*", escape_glob(self.keys.prefix()));
        match self.conn() {
            Conn::Single(mut conn) => {
                let mut cursor = 0u64;
                loop {
                    let (next, keys): (u64, Vec<String>) = scan_cmd(cursor, &pattern)
                        .query_async(&mut conn)
                        .await
                        .map_err(map_err)?;
                    self.sweep_sets(keys, &mut report).await?;
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Conn::Cluster(mut conn) => {
                for (host, port) in primaries(&mut conn).await? {
                    let mut cursor = 0u64;
                    loop {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        });
                        let reply = conn
                            .route_command(scan_cmd(cursor, &pattern), routing)
                            .await
                            .map_err(map_err)?;
                        let (next, keys): (u64, Vec<String>) = redis::from_redis_value(reply)
                            .map_err(|err| StoreError::Corrupt(format!("SCAN reply: {err}")))?;
                        self.sweep_sets(keys, &mut report).await?;
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                }
            }
        }
        tracing::debug!(?report, prefix = %self.keys.prefix(), "swept orphaned ownership");
        Ok(report)
    }

    /// Sweeps the owner sets `set_keys` (full key names from a `SCAN`).
    async fn sweep_sets(
        &self,
        set_keys: Vec<String>,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        // Owned strings: a stream of futures borrowing them would make this future `!Send`
        // for callers (higher-ranked lifetimes), and apps spawn the sweep on a runtime.
        let owners: Vec<(String, String)> = set_keys
            .iter()
            .filter_map(|key| Some((key.clone(), self.owner_of_set_key(key)?.to_owned())))
            .collect();
        report.owners_scanned += owners.len();
        // One `EXISTS` per owner, several in flight at once on the multiplexed connection.
        let checked: Vec<(String, String, bool)> = stream::iter(owners)
            .map(|(set_key, owner)| {
                let mut conn = self.conn();
                let user_key = self.keys.user(&owner);
                async move {
                    let alive: bool = conn.exists(user_key).await.map_err(map_err)?;
                    Ok::<_, StoreError>((set_key, owner, alive))
                }
            })
            .buffered(EXISTS_IN_FLIGHT)
            .try_collect()
            .await?;
        for (set_key, owner, alive) in checked {
            if !alive {
                report.orphaned_owners += 1;
                self.release_orphan(&owner, &set_key, report).await?;
            }
        }
        Ok(())
    }

    /// The owner an owner-set key names, when the key is one under this store's prefix.
    fn owner_of_set_key<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(self.keys.prefix())?
            .strip_prefix("{o:")?
            .strip_suffix('}')
    }

    /// Releases every resource still owned by the dead `owner`, then empties its set.
    async fn release_orphan(
        &self,
        owner: &str,
        set_key: &str,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut resources: Vec<String> = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, members): (u64, Vec<String>) = redis::cmd("SSCAN")
                .arg(set_key)
                .arg(cursor)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            resources.extend(members);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        resources.sort_unstable();
        resources.dedup();
        for resource in resources {
            let deleted: i64 = DELETE_IF
                .key(self.keys.owner(&resource))
                .arg(owner)
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?;
            if deleted == 1 {
                report.released_resources += 1;
            } else {
                report.stale_entries += 1;
            }
            let _: usize = conn.srem(set_key, &resource).await.map_err(map_err)?;
        }
        Ok(())
    }
}

/// `SCAN cursor MATCH pattern COUNT n`.
fn scan_cmd(cursor: u64, pattern: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(SCAN_COUNT);
    cmd
}

/// The primaries the cluster client routes to, as `(host, port)`: a `PING` routed to all
/// primaries answers with one reply per primary, keyed by its address.
async fn primaries(conn: &mut ClusterConnection) -> Result<Vec<(String, u16)>, StoreError> {
    let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    let reply = conn
        .route_command(redis::cmd("PING"), routing)
        .await
        .map_err(map_err)?;
    let Value::Map(replies) = reply else {
        return Err(StoreError::Corrupt(format!(
            "PING to all primaries: unexpected reply {reply:?}"
        )));
    };
    let mut nodes = Vec::with_capacity(replies.len());
    for (address, answer) in replies {
        if let Value::ServerError(err) = answer {
            return Err(StoreError::Unavailable(format!(
                "a cluster primary refused PING: {err:?}"
            )));
        }
        let address: String = redis::from_redis_value(address)
            .map_err(|err| StoreError::Corrupt(format!("primary address: {err}")))?;
        nodes.push(parse_address(&address)?);
    }
    if nodes.is_empty() {
        return Err(StoreError::Unavailable(
            "the cluster has no reachable primary".to_owned(),
        ));
    }
    nodes.sort_unstable();
    nodes.dedup();
    Ok(nodes)
}

/// Splits `host:port` (the host may itself contain `:`, as IPv6 addresses do).
fn parse_address(address: &str) -> Result<(String, u16), StoreError> {
    address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
        .ok_or_else(|| StoreError::Corrupt(format!("primary address {address:?}")))
}

/// Escapes the glob characters of `text` for a `SCAN ... MATCH` pattern.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("app:"), "app:");
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }

    #[test]
    fn addresses_split_on_the_last_colon() {
        assert_eq!(
            parse_address("127.0.0.1:7101").ok(),
            Some(("127.0.0.1".to_owned(), 7101))
        );
        assert_eq!(
            parse_address("::1:7000").ok(),
            Some(("::1".to_owned(), 7000))
        );
        assert!(parse_address("no-port").is_err());
        assert!(parse_address("host:99999").is_err());
    }
}
