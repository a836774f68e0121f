//! The perfstack demo: a short tour with one section per crate.
//!
//! ```text
//! cargo run -p perfstack-examples --bin demo            # the full tour
//! cargo run -p perfstack-examples --bin demo -- --quick # what CI runs
//! ```
#![allow(clippy::print_stdout)]

use perfstack_examples::services::Services;
use perfstack_examples::tour::{self, Tour};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let quick = perfstack_examples::quick_mode();
    println!("perfstack demo{}", if quick { " (quick mode)" } else { "" });
    let tour = Tour { services: Services::detect().await, quick };
    match tour::run(&tour).await {
        Ok(()) => {
            println!();
            println!("tour complete");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            println!("tour failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
