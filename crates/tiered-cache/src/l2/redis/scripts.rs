//! The Lua scripts of the Redis tier. Every script that writes a value is fenced: its last
//! argument is a deadline in Redis's clock (unix ms), and a script that runs after it writes
//! nothing and returns -1. A write delayed past the moment its caller gave up (it sat in a
//! paused server's input buffer, or in the socket of a connection cut off by a partition)
//! cannot land later over a newer value.
//!
//! Sent with `EVALSHA` (loaded once with `SCRIPT LOAD`,
//! reloaded when Redis answers `NOSCRIPT`, e.g. after a restart or `SCRIPT FLUSH`).

use fred::interfaces::LuaInterface;
use fred::prelude::{Client, Error};
use fred::types::{FromValue, Value};
use parking_lot::Mutex;

/// One script and its SHA1 once loaded.
#[derive(Debug)]
pub(crate) struct Script {
    lua: &'static str,
    sha: Mutex<Option<String>>,
}

impl Script {
    pub(crate) const fn new(lua: &'static str) -> Self {
        Script { lua, sha: Mutex::new(None) }
    }

    /// `EVALSHA`, loading the script first when Redis does not know it.
    pub(crate) async fn run<R: FromValue>(
        &self,
        client: &Client,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<R, Error> {
        let known = self.sha.lock().clone();
        if let Some(sha) = known {
            match client.evalsha(sha, keys.clone(), args.clone()).await {
                Err(e) if e.details().starts_with("NOSCRIPT") => {}
                other => return other,
            }
        }
        let sha: String = client.script_load(self.lua).await?;
        *self.sha.lock() = Some(sha.clone());
        client.evalsha(sha, keys, args).await
    }
}

/// Writes the value only while our lease holds (Facebook's lease rule: an invalidation
/// deletes the lease, so a load that raced it cannot store a stale value) and no invalidation
/// or `set` moved the key's version or the prefix epoch since the lease was won; releases the
/// lease either way. KEYS: value, lease, version, epoch. ARGV: token, value, px, version, epoch.
/// `pcall`: a lease, version or epoch key of another type (an error reply, a table, which
/// `tonumber` turns into nil) is treated like foreign bytes: the write is refused, not an error.
pub(crate) const SET_WITH_LEASE: &str = r"
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[#ARGV]) then
  return -1
end
if redis.pcall('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2])
local v = tonumber(redis.pcall('GET', KEYS[3]) or '0')
local e = tonumber(redis.pcall('GET', KEYS[4]) or '0')
if v == tonumber(ARGV[4]) and e == tonumber(ARGV[5]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

/// Releases a lease if the token still holds it (a load that failed or stored nothing).
/// KEYS: lease. ARGV: token. A lease key of another type is not ours (`pcall`: no error).
pub(crate) const RELEASE_LEASE: &str = r"
if redis.pcall('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0";

/// A scripted write (and delete, so nothing lingers) of a probe key: its invalidation coming
/// back to the writer tells that the server ignores NOLOOP for script writes in BCAST mode
/// (see `echo`). KEYS: probe key.
pub(crate) const PROBE: &str = r"
redis.call('SET', KEYS[1], '1')
redis.call('DEL', KEYS[1])
return 1";

/// Writes the value only if neither the key's invalidation version nor the prefix epoch moved
/// since the load read them. KEYS: value, version, epoch. ARGV: version, epoch, value, px.
/// A version or epoch key of another type is treated like foreign bytes (`pcall`: its error
/// reply is a table, `tonumber` gives nil): the write is refused, not an error.
pub(crate) const SET_IF_UNCHANGED: &str = r"
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[#ARGV]) then
  return -1
end
local v = tonumber(redis.pcall('GET', KEYS[2]) or '0')
local e = tonumber(redis.pcall('GET', KEYS[3]) or '0')
if v == tonumber(ARGV[1]) and e == tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0";

/// Invalidation: per key, bump the version first (so a conditional write racing this fails),
/// then delete the value and the lease. A version holding foreign bytes or a key of another
/// type is replaced (INCR, or GET, would fail on it). KEYS: (value, lease, version) per key.
/// ARGV: version px.
pub(crate) const INVALIDATE: &str = r"
for i = 1, #KEYS, 3 do
  local t = redis.call('TYPE', KEYS[i + 2]).ok
  if t ~= 'none' and (t ~= 'string' or not tonumber(redis.call('GET', KEYS[i + 2]))) then
    redis.call('DEL', KEYS[i + 2])
  end
  redis.call('INCR', KEYS[i + 2])
  redis.call('PEXPIRE', KEYS[i + 2], ARGV[1])
  redis.call('DEL', KEYS[i], KEYS[i + 1])
end
return 1";

/// Bumps the prefix-invalidation epoch, replacing foreign bytes or a key of another type
/// (INCR, or GET, would fail on them). KEYS: epoch.
pub(crate) const BUMP_EPOCH: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and (t ~= 'string' or not tonumber(redis.call('GET', KEYS[1]))) then
  redis.call('DEL', KEYS[1])
end
return redis.call('INCR', KEYS[1])";

/// The application's `set`: bumps the key's version (replacing foreign bytes, which INCR
/// would fail on), then writes the value. KEYS: value, version. ARGV: value, px, version px.
pub(crate) const SET_VERSIONED: &str = r"
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[#ARGV]) then
  return -1
end
if redis.call('TYPE', KEYS[2]).ok ~= 'string' or not tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('DEL', KEYS[2])
end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1";

/// Redis's clock in unix milliseconds (for the write fence's offset).
pub(crate) const CLOCK: &str = r"
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";
