/// GCRA for `n` cells in one round trip, on the Redis server's clock (`TIME`), in
/// microseconds. KEYS[1] = bucket; ARGV = emission interval, tolerance (interval × (burst − 1)),
/// cells. Returns `{1, 0}` when admitted, `{0, wait_us}` when not. Same maths as
/// [`Gcra::decide`](crate::rate::Gcra::decide) for n = 1.
pub(crate) const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local earliest = tat + (n - 1) * interval - tau
if now < earliest then
  return {0, earliest - now}
end
local new_tat = tat + n * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
"#;
