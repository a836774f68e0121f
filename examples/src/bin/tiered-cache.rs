//! Two instances of one tiered cache sharing Redis: single-flight, a write and an invalidation
//! propagating from one instance to the other. `--quick` for CI.
//!
//! `cargo run -p perfstack-examples --bin tiered-cache`

use perfstack_examples::{quick_mode, services::Services, tour::tiered_cache};

#[tokio::main]
async fn main() -> Result<(), perfstack_examples::tour::SectionError> {
    let services = Services::detect().await;
    tiered_cache::two_instances(services.redis.as_deref(), quick_mode()).await
}
