/// GCRA in one round trip, on the Redis server's clock (`TIME`), in microseconds.
/// KEYS[1] = bucket; ARGV = emission interval, tolerance (interval × (burst − 1)), cells
/// wanted, cells returned (leased earlier and not used). Returned cells are given back first
/// (the theoretical arrival time moves back, never before now). Then it grants as many of the
/// wanted cells as the bucket holds, at least one: `{granted, 0}`, or `{0, wait_us}` when not
/// even one is free. Same maths as [`Gcra::decide`](crate::rate::Gcra::decide) for one cell.
pub(crate) const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local ret = tonumber(ARGV[4] or 0)
local tat = tonumber(redis.call('GET', KEYS[1]) or now) - ret * interval
if tat < now then tat = now end
local free = math.floor((now + tau - tat) / interval) + 1
if free < 1 then
  if ret > 0 then
    redis.call('SET', KEYS[1], tat, 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  return {0, tat - tau - now}
end
local granted = math.min(n, free)
local new_tat = tat + granted * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {granted, 0}
"#;
