//! Mint rate-limit buckets in Redis, shared by every app instance on the same Redis.
//!
//! One string key per bucket, `P{l:KEY}`, holding the GCRA theoretical arrival time in ms;
//! one script reads it and applies [`RateLimit::apply`]'s arithmetic atomically, and the
//! key expires when the bucket is full again.

use super::conn::map_err;
use super::RedisStore;
use crate::rate_limit::{RateDecision, RateLimit};
use crate::store::StoreError;
use redis::Script;
use std::sync::LazyLock;

/// `KEYS[1]` bucket. `ARGV`: now, interval, tolerance (ms). Returns `{1, 0}` when allowed
/// (and stores the new arrival time), `{0, retry_after_ms}` when limited. Same arithmetic as
/// [`RateLimit::apply`].
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return {0, string.format('%d', allow_at - now)} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', new_tat - now))
return {1, '0'}
",
    )
});

impl RedisStore {
    pub(super) async fn rate_limit_impl(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        let mut conn = self.conn();
        let (allowed, retry_after): (i64, String) = GCRA
            .key(self.keys.limit(key))
            .arg(now)
            .arg(limit.interval_ms())
            .arg(limit.tolerance_ms())
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        if allowed == 1 {
            return Ok(RateDecision::Allowed);
        }
        let retry_after_ms = retry_after
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("rate limit reply {retry_after:?}")))?;
        Ok(RateDecision::Limited { retry_after_ms })
    }
}
