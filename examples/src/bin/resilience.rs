//! perfstack-resilience: a flaky downstream. Calls go through a retry policy with a budget, a
//! circuit breaker and a timeout, with a fallback outside. During the outage the breaker opens,
//! the fallback answers and the downstream is spared; after it, half-open probes close the
//! breaker again. A degradation level turns the optional "recommendations" feature off while
//! the breaker is open. Then a hedged pipeline answers requests whose first call stalls.
//!
//! ```text
//! cargo run -p perfstack-examples --bin resilience            # 300 requests per phase
//! cargo run -p perfstack-examples --bin resilience -- --quick # what CI runs
//! ```
#![allow(clippy::print_stdout)]

use perfstack_examples::tour::resilience::{flaky_downstream, hedged_tail, print_hedge_report, print_reports};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let quick = perfstack_examples::quick_mode();
    println!("perfstack-resilience: flaky downstream{}", if quick { " (quick mode)" } else { "" });
    match flaky_downstream(quick).await {
        Ok((reports, transitions)) => print_reports(&reports, &transitions),
        Err(e) => {
            println!("failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    match hedged_tail(quick).await {
        Ok(report) => {
            print_hedge_report(&report);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            println!("failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
