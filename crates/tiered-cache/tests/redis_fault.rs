//! Redis killed and restarted, then paused longer than the L2 timeout and resumed, under
//! bounded concurrent load on two instances, with the client and cache configuration the docs
//! show and with a tuned one. Every operation is recorded in a history; the testkit's checker
//! says whether any read returned a value older than a write that had returned (on the writing
//! instance at once, on the other within the propagation bound): outside the faults and the
//! documented recovery time there must be none, and callers see no error. How long coherence
//! took is a figure of the bench (`scripts/bench.sh`), not an assertion here.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use common::fault_run::{fault_run, Setup};

async fn no_stale_read_after_recovery_and_no_caller_error(setup: Setup) {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let run = fault_run(setup).await;
    eprintln!(
        "{}: {} ops, {} caller errors, {} stale after recovery, {} stale in all (strict), coherent {:?} after the restart, {:?} after the pause",
        setup.name(),
        run.load.completed(),
        run.caller_errors(),
        run.stale_after_recovery(),
        run.stale_strict,
        run.coherent_after_restart,
        run.coherent_after_resume
    );
    assert_eq!(run.caller_errors(), 0, "callers saw errors: {:?}", run.load);
    assert!(run.report.is_ok(), "{}: {}", setup.name(), run.report);
    assert!(run.report.reads >= 2_000 && run.report.writes >= 200, "the load did not run: {}", run.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_configuration_survives_a_restart_and_a_blip_with_no_stale_read_after_recovery() {
    no_stale_read_after_recovery_and_no_caller_error(Setup::Readme).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuned_configuration_survives_a_restart_and_a_blip_with_no_stale_read_after_recovery() {
    no_stale_read_after_recovery_and_no_caller_error(Setup::Tuned).await;
}
