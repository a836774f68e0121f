//! The fault run as rows: Redis killed and restarted, then paused and resumed, then its data
//! connections killed, under load on two instances, with the docs' configuration and a tuned
//! one (the scenario is the one the fault test asserts,
//! `crates/tiered-cache/tests/common/fault_run.rs`).

use perfstack_benches::{record, Figure, Goal, Measure};

use crate::fault_run::{fault_run, Fault, Setup, RECOVERY};
use crate::KRATE;

pub(crate) fn fault_rows() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for setup in [Setup::Readme, Setup::Tuned] {
        let run = rt.block_on(fault_run(setup));
        let name = setup.name();
        let ops = run.load.completed();
        let row = |figure: String, unit: &str, value: f64, goal: Goal, note: String| {
            record(&Figure {
                krate: KRATE.into(),
                figure,
                unit: unit.into(),
                value: Measure::Value(value),
                baseline: None,
                goal,
                note,
            });
        };
        row(
            format!("fault run, {name}: caller errors"),
            "errors",
            run.caller_errors() as f64,
            Goal::AtMost(0.0),
            format!(
                "{ops} operations on two instances; Redis killed 1 s then restarted, later paused 1 s (SIGSTOP), \
                 later its data connections killed (CLIENT KILL TYPE normal)"
            ),
        );
        row(
            format!("fault run, {name}: stale reads after recovery"),
            "reads",
            run.stale_after_recovery() as f64,
            Goal::AtMost(0.0),
            format!(
                "history checker, reads starting {} ms after Redis is back; propagation bound {} ms; during the faults \
                 bound {} ms (degraded_l1_ttl + coherence_bound), {} reads beyond it; {} stale reads in all by the \
                 propagation bound alone ({} pending writes excused until recovery)",
                RECOVERY.as_millis(),
                run.bound.as_millis(),
                run.fault_bound.as_millis(),
                run.stale_during_faults(),
                run.stale_strict,
                run.pending_writes
            ),
        );
        let coherence = |fault: &Fault, what: &str, from: &str| {
            row(
                format!("fault run, {name}: time to coherence after the {what}"),
                "ms",
                fault.time_to_coherence.as_secs_f64() * 1e3,
                Goal::AtMost(RECOVERY.as_secs_f64() * 1e3),
                format!("from {from} to the start of the last stale read"),
            );
        };
        coherence(run.restart(), "restart", "Redis accepting connections");
        coherence(run.pause(), "pause", "SIGCONT");
        coherence(
            run.data_connection_kill(),
            "data-connection kill",
            &format!("CLIENT KILL TYPE normal ({} connections closed)", run.connections_killed),
        );
    }
}
