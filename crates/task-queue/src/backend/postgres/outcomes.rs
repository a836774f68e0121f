//! Batched outcome writes, where one outcome the database refuses never fails the others.

use std::collections::HashSet;

use tokio_postgres::GenericClient;

use super::rows;
use super::sql::Sql;
use crate::backend::Completion;
use crate::error::QueueError;

/// Writes `batch`; returns the ids written (the others' fencing tokens were stale).
///
/// One statement for the batch. What is written is made storable first (see
/// [`rows::outcome_columns`]); should the database still refuse a row (a constraint, a trigger,
/// a value out of range), the batch is split in halves until that row is alone: every other
/// outcome is written, and that one's task is dead-lettered with the reason, never left running
/// to be rescued and run again. A connection error ends the call (the caller retries the batch;
/// outcomes already written then come back as stale).
///
/// # Errors
///
/// A database error other than a refused row.
pub(super) async fn write<C: GenericClient + Sync>(
    client: &C,
    sql: &Sql,
    batch: &[Completion],
) -> Result<HashSet<i64>, QueueError> {
    let mut written: HashSet<i64> = HashSet::with_capacity(batch.len());
    // The parts still to write, as ranges of the batch (a stack: the first half goes first).
    let mut todo: Vec<std::ops::Range<usize>> = Vec::new();
    todo.push(0..batch.len());
    while let Some(range) = todo.pop() {
        let part = &batch[range.clone()];
        match write_batch(client, &sql.complete, part).await {
            Ok(ids) => written.extend(ids),
            Err(e) if is_row_error(&e) && part.len() > 1 => {
                let mid = range.start + part.len() / 2;
                todo.push(mid..range.end);
                todo.push(range.start..mid);
            }
            Err(e) if is_row_error(&e) => {
                let c = &part[0];
                let reason = crate::limits::error_text(format!(
                    "the attempt's outcome ({}) could not be written: {}",
                    rows::outcome_name(&c.outcome),
                    QueueError::from(e)
                ));
                tracing::error!(task = c.id.0, %reason, "task outcome refused by the database; dead-lettering the task");
                match client.query_opt(&sql.fail_unwritable, &[&c.id.0, &c.fence, &reason]).await {
                    Ok(row) => written.extend(row.map(|r| r.get::<_, i64>(0))),
                    // Left running: its lease expires, and the rescue counts the attempt.
                    Err(e) => tracing::error!(task = c.id.0, error = %e, "dead-lettering the task failed too"),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(written)
}

/// True for an error a statement raised because of the data of one of its rows (a value out of
/// range, a byte the encoding refuses, a constraint or a trigger saying no): splitting the batch
/// isolates the row. Not for a lost connection, a timeout or a broken schema.
fn is_row_error(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        let class = db.code().code().get(..2).unwrap_or("");
        matches!(class, "22" | "23" | "54" | "P0")
    })
}

/// Writes `batch` with the batched outcome statement; returns the ids written.
async fn write_batch<C: GenericClient + Sync>(
    client: &C,
    sql: &str,
    batch: &[Completion],
) -> Result<Vec<i64>, tokio_postgres::Error> {
    let n = batch.len();
    let (mut ids, mut fences, mut states, mut delays, mut errors) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for c in batch {
        let (st, delay, err) = rows::outcome_columns(&c.outcome);
        ids.push(c.id.0);
        fences.push(c.fence);
        states.push(st);
        delays.push(delay);
        errors.push(err);
    }
    // Unnamed statement: a custom plan for the real array sizes (see `PostgresBackend::fetch`).
    let rows = client.query(sql, &[&ids, &fences, &states, &delays, &errors]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
