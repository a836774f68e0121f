//! Versioned schema migrations, applied in order, each once, under an advisory lock.

use tokio_postgres::Client;

use crate::error::QueueError;

/// The migrations: `(version, name, sql)`, where `{s}` stands for the quoted schema.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "tasks table",
    r#"
CREATE TABLE {s}.tq_tasks (
    id               bigserial PRIMARY KEY,
    kind             text        NOT NULL,
    payload          jsonb       NOT NULL,
    priority         smallint    NOT NULL,
    state            smallint    NOT NULL DEFAULT 0,
    attempt          integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL,
    backoff          jsonb       NOT NULL,
    timeout_ms       bigint,
    run_at           timestamptz NOT NULL,
    sort_at          timestamptz NOT NULL,
    unique_key       text,
    tags             text[]      NOT NULL DEFAULT '{}',
    fence            bigint      NOT NULL DEFAULT 0,
    lease_until      timestamptz,
    worker           text,
    cancel_requested boolean     NOT NULL DEFAULT false,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
-- state: 0 pending, 1 failed (waiting for retry), 2 running, 3 completed, 4 dead, 5 cancelled
CREATE INDEX tq_tasks_ready ON {s}.tq_tasks (sort_at) WHERE state <= 1;
CREATE INDEX tq_tasks_leases ON {s}.tq_tasks (lease_until) WHERE state = 2;
CREATE INDEX tq_tasks_finished ON {s}.tq_tasks (finished_at) WHERE state >= 3;
CREATE UNIQUE INDEX tq_tasks_unique ON {s}.tq_tasks (unique_key) WHERE unique_key IS NOT NULL AND state <= 2;
CREATE TABLE {s}.tq_periodic (
    name      text PRIMARY KEY,
    last_slot bigint NOT NULL
);
"#,
)];

/// Applies the missing migrations in `schema` (created if needed); returns how many ran.
pub(super) async fn apply(client: &mut Client, schema: &str) -> Result<usize, QueueError> {
    let q = format!("\"{schema}\"");
    let tx = client.transaction().await?;
    // One migrator at a time per schema, across processes.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("perfstack_task_queue:{schema}")]).await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {q};
         CREATE TABLE IF NOT EXISTS {q}.tq_migrations (
            version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    ))
    .await?;
    let row = tx.query_one(&format!("SELECT coalesce(max(version), 0) FROM {q}.tq_migrations"), &[]).await?;
    let current: i32 = row.get(0);
    let mut ran = 0;
    for (version, name, sql) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        tx.batch_execute(&sql.replace("{s}", &q)).await?;
        tx.execute(&format!("INSERT INTO {q}.tq_migrations (version, name) VALUES ($1, $2)"), &[version, name]).await?;
        ran += 1;
    }
    tx.commit().await?;
    Ok(ran)
}
