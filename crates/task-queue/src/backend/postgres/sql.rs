//! The statements, with the schema and the aging step baked in once.

#[derive(Debug)]
pub(super) struct Sql {
    pub(super) channel: String,
    /// Where `cancel` announces the id of a running task whose cancellation was requested.
    pub(super) cancel_channel: String,
    pub(super) submit: String,
    pub(super) submit_many: String,
    pub(super) find_unique: String,
    pub(super) fetch: String,
    pub(super) complete: String,
    pub(super) complete_one: String,
    /// Dead-letters one running task whose outcome the database refused, with the reason.
    pub(super) fail_unwritable: String,
    pub(super) heartbeat: String,
    pub(super) rescue: String,
    pub(super) status: String,
    pub(super) cancel: String,
    pub(super) exists: String,
    pub(super) depth: String,
    pub(super) cleanup: String,
    pub(super) count_active: String,
}

/// A NOTIFY channel: `<prefix><schema>`, shortened with a hash when it would pass PostgreSQL's
/// 63-byte identifier limit.
fn channel_name(prefix: &str, schema: &str) -> String {
    if prefix.len() + schema.len() <= 63 {
        return format!("{prefix}{schema}");
    }
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in schema.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}{}_{h:016x}", &schema[..40])
}

impl Sql {
    pub(super) fn new(schema: &str, step_ms: i64) -> Self {
        let t = format!("\"{schema}\".tq_tasks");
        let channel = channel_name("tq_", schema);
        let cancel_channel = channel_name("tqc_", schema);
        // Head start of a priority level: `priority × step`.
        let head = |p: &str| format!("({p} * {step_ms}) * interval '1 millisecond'");
        let cols = "t.id, t.kind, t.payload::text, t.priority, t.attempt, t.max_attempts, t.backoff::text, \
                    t.timeout_ms, t.fence, t.cancel_requested, \
                    extract(epoch from (now() - t.run_at))::float8";
        Self {
            submit: format!(
                "WITH ins AS (
                   INSERT INTO {t} (kind, payload, priority, max_attempts, backoff, timeout_ms, run_at, sort_at, unique_key, tags)
                   VALUES ($1::text, $2::text::jsonb, $3::int2, $4::int4, $5::text::jsonb, $6::int8,
                           now() + make_interval(secs => $7::float8), now() + make_interval(secs => $7::float8) - {h},
                           $8::text, $9::text[])
                   ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state <= 2 DO NOTHING
                   RETURNING id)
                 SELECT id, pg_notify('{channel}', '')::text FROM ins",
                h = head("$3::int2")
            ),
            submit_many: format!(
                "WITH ins AS (
                   INSERT INTO {t} (kind, payload, priority, max_attempts, backoff, timeout_ms, run_at, sort_at)
                   SELECT k, p::jsonb, pr, ma, b::jsonb, tm, now() + make_interval(secs => d),
                          now() + make_interval(secs => d) - {h}
                   FROM unnest($1::text[], $2::text[], $3::int2[], $4::int4[], $5::text[], $6::int8[], $7::float8[])
                        AS u(k, p, pr, ma, b, tm, d)
                   RETURNING id)
                 SELECT id FROM ins",
                h = head("pr")
            ),
            find_unique: format!("SELECT id FROM {t} WHERE unique_key = $1 AND state <= 2"),
            fetch: format!(
                "WITH picked AS (
                   SELECT id FROM {t} WHERE state <= 1 AND run_at <= now()
                   ORDER BY sort_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                 UPDATE {t} t SET state = 2, attempt = t.attempt + 1, fence = t.fence + 1,
                   lease_until = now() + make_interval(secs => $2), worker = $3, started_at = now()
                 FROM picked WHERE t.id = picked.id
                 RETURNING {cols}"
            ),
            // One statement for a whole batch of outcomes. c.state: 0 released, 1 retry,
            // 3 completed, 4 dead, 5 cancelled. A cancel request turns a retry into cancelled.
            complete: format!(
                "UPDATE {t} t SET
                   state = CASE WHEN t.cancel_requested AND c.st IN (0, 1) THEN 5 ELSE c.st END,
                   attempt = CASE WHEN c.st = 0 THEN t.attempt - 1 ELSE t.attempt END,
                   last_error = coalesce(c.err, t.last_error),
                   run_at = CASE WHEN c.st = 1 THEN now() + make_interval(secs => c.delay) ELSE t.run_at END,
                   sort_at = CASE WHEN c.st = 1 THEN now() + make_interval(secs => c.delay) - {h} ELSE t.sort_at END,
                   finished_at = CASE WHEN c.st >= 3 OR (t.cancel_requested AND c.st IN (0, 1)) THEN now() END,
                   lease_until = NULL, worker = NULL
                 FROM unnest($1::int8[], $2::int8[], $3::int2[], $4::float8[], $5::text[]) AS c(id, fence, st, delay, err)
                 WHERE t.id = c.id AND t.fence = c.fence AND t.state = 2
                 RETURNING t.id",
                h = head("t.priority")
            ),
            complete_one: format!(
                "UPDATE {t} SET state = 3, finished_at = now(), lease_until = NULL, worker = NULL
                 WHERE id = $1 AND fence = $2 AND state = 2 RETURNING id"
            ),
            fail_unwritable: format!(
                "UPDATE {t} SET state = 4, last_error = $3, finished_at = now(), lease_until = NULL, worker = NULL
                 WHERE id = $1 AND fence = $2 AND state = 2 RETURNING id"
            ),
            heartbeat: format!(
                "UPDATE {t} t SET lease_until = now() + make_interval(secs => $3)
                 FROM unnest($1::int8[], $2::int8[]) AS l(id, fence)
                 WHERE t.id = l.id AND t.fence = l.fence AND t.state = 2
                 RETURNING t.id, t.cancel_requested"
            ),
            rescue: format!(
                "WITH lost AS (
                   SELECT id FROM {t} WHERE state = 2 AND lease_until < now() FOR UPDATE SKIP LOCKED)
                 UPDATE {t} t SET
                   state = CASE WHEN t.cancel_requested THEN 5 WHEN t.attempt >= t.max_attempts THEN 4 ELSE 1 END,
                   last_error = 'lease expired: the worker stopped heartbeating',
                   run_at = now(), sort_at = now() - {h},
                   finished_at = CASE WHEN t.cancel_requested OR t.attempt >= t.max_attempts THEN now() END,
                   lease_until = NULL, worker = NULL
                 FROM lost WHERE t.id = lost.id",
                h = head("t.priority")
            ),
            status: format!(
                "SELECT id, kind, priority, state, attempt, max_attempts, last_error FROM {t} WHERE id = $1"
            ),
            // A running task's id goes to the cancel channel: the owning pool fires the task's
            // token when the notification arrives (at commit), without waiting for a heartbeat.
            cancel: format!(
                "WITH old AS (SELECT id, state FROM {t} WHERE id = $1 AND state <= 2 FOR UPDATE),
                 upd AS (
                   UPDATE {t} t SET cancel_requested = true,
                     state = CASE WHEN old.state <= 1 THEN 5 ELSE t.state END,
                     finished_at = CASE WHEN old.state <= 1 THEN now() ELSE t.finished_at END
                   FROM old WHERE t.id = old.id RETURNING old.state, t.id)
                 SELECT state, CASE WHEN state = 2 THEN pg_notify('{cancel_channel}', id::text)::text END FROM upd"
            ),
            exists: format!("SELECT 1 FROM {t} WHERE id = $1"),
            depth: format!("SELECT priority, count(*) FROM {t} WHERE state <= 1 GROUP BY priority"),
            cleanup: format!(
                "DELETE FROM {t} WHERE id IN (
                   SELECT id FROM {t} WHERE state >= 3 AND finished_at < now() - make_interval(secs => $1) LIMIT 10000)"
            ),
            // Pending + running rows, each part read from its partial index and cut off at the
            // limit ($1), so a check costs at most 2 × max_pending index entries.
            count_active: format!(
                "SELECT (SELECT count(*) FROM (SELECT 1 FROM {t} WHERE state <= 1 LIMIT $1) a)
                      + (SELECT count(*) FROM (SELECT 1 FROM {t} WHERE state = 2 LIMIT $1) b)"
            ),
            channel,
            cancel_channel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::channel_name;

    #[test]
    fn channels_fit_postgres_identifiers_and_stay_apart() {
        for len in [1, 59, 60, 61, 63] {
            let schema = "s".repeat(len);
            let (work, cancel) = (channel_name("tq_", &schema), channel_name("tqc_", &schema));
            assert!(work.len() <= 63 && cancel.len() <= 63, "{work} / {cancel}");
            assert_ne!(work, cancel);
        }
        // Unchanged for existing deployments: short schemas keep `tq_<schema>`.
        assert_eq!(channel_name("tq_", "perfstack_tasks"), "tq_perfstack_tasks");
        assert_eq!(channel_name("tqc_", "perfstack_tasks"), "tqc_perfstack_tasks");
    }
}
