//! The Lua scripts. Each one touches the keys of a single hash slot (it is safe on Redis
//! Cluster), except the `*_SINGLE` ones, which only run against a single node.
//!
//! Numbers are formatted with `%d` before being handed back to Redis: Lua 5.1 would otherwise
//! print millisecond timestamps in exponent notation.

use redis::Script;
use std::sync::LazyLock;

/// `KEYS[1]` hash. `ARGV[1]` TTL in ms (`0`: no expiry), `ARGV[2]` = n, `ARGV[3..3+n)` fields
/// to clear, then field/value pairs to set.
pub(crate) static REPLACE_FIELDS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = tonumber(ARGV[2])
if n > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 3, 2 + n)) end
redis.call('HSET', KEYS[1], unpack(ARGV, 3 + n))
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) else redis.call('PERSIST', KEYS[1]) end
return 1
",
    )
});

/// `KEYS[1]` user hash; `KEYS[2]`, single node only and optional, the index key of the user's
/// placeholder email. `ARGV[1]` now (ms, caller clock), `ARGV[2]` TTL in ms (`0`: no expiry),
/// `ARGV[3]` the user's id, `ARGV[4]` = n, `ARGV[5..5+n)` fields to clear, then field/value
/// pairs to set. Writes the user only if no live user has the hash (a user whose `x` has
/// passed is dead: its hash is replaced). Returns 1 when written, 0 when a live user is there,
/// 2 (nothing written) when `KEYS[2]` names another user.
pub(crate) static INSERT_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[1], 'c') == 1 then
  local x = redis.call('HGET', KEYS[1], 'x')
  if not x or x == '' or tonumber(x) > tonumber(ARGV[1]) then return 0 end
  redis.call('DEL', KEYS[1])
end
if KEYS[2] then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[3] then return 2 end
end
local n = tonumber(ARGV[4])
if n > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 5, 4 + n)) end
redis.call('HSET', KEYS[1], unpack(ARGV, 5 + n))
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
return 1
",
    )
});

/// `KEYS[1]` user hash. Adds the session field `ARGV[1]` (value `ARGV[2]`: the embedded session
/// or the session's expiry, both starting with the expiry), prunes session fields that expired
/// before `ARGV[4]`, and gives a hash created here the TTL `ARGV[3]` so an index for an unknown
/// user cannot leak.
pub(crate) static SESSION_INDEX: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local existed = redis.call('EXISTS', KEYS[1])
local now = tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 's:' and (tonumber(string.match(all[i + 1], '^%d+')) or 0) < now then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if existed == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
",
    )
});

/// `KEYS[1]` email or identity index key. Points it at user `ARGV[1]` when it is free, already ours, or held by
/// `ARGV[2]` (a holder the caller found dead). TTL `ARGV[3]` ms, `0` for none.
/// Returns nil on success, the current holder otherwise.
pub(crate) static EMAIL_CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and cur ~= ARGV[2] then return cur end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return false
",
    )
});

/// `KEYS[1]` hash: sets field `ARGV[1]` to `ARGV[2]` when the hash exists. Returns 1 when set.
pub(crate) static HASH_SET_IF_EXISTS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
",
    )
});

/// `KEYS[1]` user hash: marks a registered user whose stored email is `ARGV[1]` as having
/// verified it (field `a` = `2`). Returns 1 when the user now reads as verified.
pub(crate) static MARK_EMAIL_VERIFIED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'a', 'e')
if (v[1] ~= '0' and v[1] ~= '2') or v[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'a', '2')
return 1
",
    )
});

/// `KEYS[1]` hash of a one-time email code (fields `c` code proof, `l` link proof, `e`
/// email, `x` expiry, `a` tries left): tries proof `ARGV[1]` at time `ARGV[2]`. A match
/// deletes the code and returns `{'ok', c, l, e, x, a}`; a miss spends a try, deleting the
/// code at 0, and returns `{'wrong', tries left}`; no live code returns `{'missing'}`.
pub(crate) static TRY_EMAIL_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'c', 'l', 'e', 'x', 'a')
if not v[1] or tonumber(v[4]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return {'missing'}
end
if ARGV[1] == v[1] or ARGV[1] == v[2] then
  redis.call('DEL', KEYS[1])
  return {'ok', v[1], v[2], v[3], v[4], v[5]}
end
local left = redis.call('HINCRBY', KEYS[1], 'a', -1)
if left <= 0 then redis.call('DEL', KEYS[1]) end
return {'wrong', tostring(math.max(left, 0))}
",
    )
});

/// `KEYS[1]` string key: deletes it when it holds `ARGV[1]`. Returns 1 when deleted.
pub(crate) static DELETE_IF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});

/// `KEYS[1]` lease key: takes it for holder `ARGV[1]` for `ARGV[2]` ms when it is free or
/// already `ARGV[1]`'s (a renewal: the TTL starts again). Returns 1 when held, 0 otherwise.
pub(crate) static LEASE_TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
",
    )
});

/// `KEYS[1]` string key: sets it to `ARGV[2]` when it holds `ARGV[1]`. Returns 1 when set.
pub(crate) static SET_IF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
",
    )
});

/// `KEYS[1]` session hash. Pushes field `x` to `ARGV[1]` if later and moves the key's own
/// expiry by the same amount. Returns the session's user id (nil when missing).
pub(crate) static SESSION_REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'u', 'x')
if not v[1] then return false end
local old = tonumber(v[2])
local new = tonumber(ARGV[1])
if old and new > old then
  redis.call('HSET', KEYS[1], 'x', ARGV[1])
  local at = redis.call('PEXPIRETIME', KEYS[1])
  if at > 0 then redis.call('PEXPIREAT', KEYS[1], string.format('%d', at + new - old)) end
end
return v[1]
",
    )
});

/// `KEYS[1]` user hash; `ARGV[1]` the new expiry; `ARGV[2]` the field of an embedded session to
/// move first (`''` for none). Returns nil when that embedded session is not there. Pushes the
/// session's expiry to `ARGV[1]` if later; then, for an anonymous user, pushes `x` to `ARGV[1]`
/// if later and moves the key's expiry by the same amount. Returns `{collection, email,
/// shift_ms}` when the user moved, `{}` otherwise.
pub(crate) static USER_REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local new = tonumber(ARGV[1])
if ARGV[2] ~= '' then
  local s = redis.call('HGET', KEYS[1], ARGV[2])
  if not s then return false end
  local sx, st = string.match(s, '^(%d+):(%d+)$')
  if not sx then return false end
  if new > tonumber(sx) then redis.call('HSET', KEYS[1], ARGV[2], ARGV[1] .. ':' .. st) end
end
local v = redis.call('HMGET', KEYS[1], 'a', 'x', 'c', 'e')
if v[1] ~= '1' or not v[2] then return {} end
local old = tonumber(v[2])
if not old or new <= old then return {} end
redis.call('HSET', KEYS[1], 'x', ARGV[1])
local at = redis.call('PEXPIRETIME', KEYS[1])
if at > 0 then redis.call('PEXPIREAT', KEYS[1], string.format('%d', at + new - old)) end
return {v[3], v[4], string.format('%d', new - old)}
",
    )
});

/// `KEYS[1]` email key: when it holds user `ARGV[1]` and has an expiry, moves the expiry
/// later by `ARGV[2]` ms.
pub(crate) static EMAIL_EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local at = redis.call('PEXPIRETIME', KEYS[1])
if at <= 0 then return 0 end
redis.call('PEXPIREAT', KEYS[1], string.format('%d', at + tonumber(ARGV[2])))
return 1
",
    )
});

/// `KEYS[1]` user hash. Registers the user in place if it exists and is anonymous: email
/// `ARGV[1]`, name `ARGV[2]`, password hash `ARGV[4]` when `ARGV[3]` is `1`; clears the
/// expiry. Returns 1, 0 when the user is missing, -1 when it is registered already.
pub(crate) static UPGRADE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[1], 'c') == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'a') ~= '1' then return -1 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'n', ARGV[2], 'a', '0')
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'p', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'p')
end
redis.call('HDEL', KEYS[1], 'x')
redis.call('PERSIST', KEYS[1])
return 1
",
    )
});

/// Single node only. `KEYS[1]` owner key, `KEYS[2]` owner's set; `ARGV[1]` owner,
/// `ARGV[2]` resource. Returns nil when claimed, the current owner otherwise.
pub(crate) static CLAIM_SINGLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return false
",
    )
});

/// Single node only. `KEYS[1]` owner key, `KEYS[2]` owner's set; `ARGV[1]` owner,
/// `ARGV[2]` resource. Returns 1 when released.
pub(crate) static RELEASE_SINGLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
",
    )
});

/// Single node only: one transfer batch, atomic. `KEYS[1]` from-set, `KEYS[2]` to-set,
/// `KEYS[2+i]` owner key of resource `ARGV[2+i]`; `ARGV[1]` from, `ARGV[2]` to.
/// Each listed resource still owned by `from` moves to `to` (owner key and both sets at once);
/// a listed resource owned by someone else is a stale entry and leaves the from-set.
/// Returns how many moved.
pub(crate) static TRANSFER_BATCH_SINGLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local moved = 0
for i = 3, #ARGV do
  local resource = ARGV[i]
  if redis.call('SREM', KEYS[1], resource) == 1 then
    if redis.call('GET', KEYS[i]) == ARGV[1] then
      redis.call('SET', KEYS[i], ARGV[2])
      redis.call('SADD', KEYS[2], resource)
      moved = moved + 1
    end
  end
end
return moved
",
    )
});
