//! Redis killed and restarted, then paused longer than the L2 timeout and resumed, then its
//! data connections killed (`CLIENT KILL TYPE normal`: the connections carrying client
//! tracking drop and reconnect, the pub/sub ones stay), under bounded concurrent load on two
//! instances, with the client and cache configuration the docs show and with a tuned one.
//! Every operation is recorded in a history; the testkit's checker says whether any read
//! returned a value older than a write that had returned (on the writing instance at once, on
//! the other within the propagation bound; within a fault and the documented recovery time
//! after it, within `degraded_l1_ttl + coherence_bound`, and a write that returned
//! `Propagation::Pending` need not reach the other instance before the recovery ends). There
//! must be no such read, and callers see no error. L1 must really have served reads (a cache
//! that never trusts its L1 would pass the rest trivially), and both instances must end
//! verified with nothing pending. How long coherence took is a figure of the bench
//! (`scripts/bench.sh`), not an assertion here.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use common::fault_run::{fault_run, Setup};

/// The least share of reads L1 must answer over the run.
const L1_SHARE: f64 = 0.25;

async fn no_stale_read_after_recovery_and_no_caller_error(setup: Setup) {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let run = fault_run(setup).await;
    eprintln!(
        "{}: {} ops, {} caller errors, {} pending writes, {} stale after recovery, {} stale during the faults \
         (beyond the fault bound, or own writes missed), {} stale in all (strict), coherent {:?} after the \
         restart, {:?} after the pause, {:?} after the data-connection kill ({} connections); L1 hits {:.0} % \
         of reads; settled {} after {:?}{}",
        setup.name(),
        run.load.completed(),
        run.caller_errors(),
        run.pending_writes,
        run.stale_after_recovery(),
        run.stale_during_faults(),
        run.stale_strict,
        run.restart().time_to_coherence,
        run.pause().time_to_coherence,
        run.data_connection_kill().time_to_coherence,
        run.connections_killed,
        run.l1_hit_share() * 100.0,
        run.settled,
        run.settle_time,
        run.timeline()
    );
    assert_eq!(run.caller_errors(), 0, "callers saw errors:{}{}", run.errors(), run.timeline());
    assert!(run.report.reads >= 2_000 && run.report.writes >= 200, "the load did not run: {}", run.report);
    assert!(
        run.report.is_ok(),
        "{}: {} stale after recovery, {} during the faults (beyond the fault bound {:?} on the other \
         instance, or the reader's own write missed): {}{}",
        setup.name(),
        run.stale_after_recovery(),
        run.stale_during_faults(),
        run.fault_bound,
        run.report,
        run.timeline()
    );
    assert!(
        run.l1_hit_share() >= L1_SHARE,
        "{}: L1 answered {} of {} reads ({:.1} %), below {:.0} %: L1 was hardly trusted{}",
        setup.name(),
        run.l1_hits,
        run.report.reads,
        run.l1_hit_share() * 100.0,
        L1_SHARE * 100.0,
        run.timeline()
    );
    assert!(
        run.settled,
        "{}: the instances did not end verified with nothing pending within {:?}{}",
        setup.name(),
        run.settle_time,
        run.timeline()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_configuration_survives_a_restart_a_blip_and_a_connection_kill_with_no_stale_read() {
    no_stale_read_after_recovery_and_no_caller_error(Setup::Readme).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuned_configuration_survives_a_restart_a_blip_and_a_connection_kill_with_no_stale_read() {
    no_stale_read_after_recovery_and_no_caller_error(Setup::Tuned).await;
}
