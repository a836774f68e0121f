//! The demo tour: one section per perfstack crate. Each crate adds its own module here and one
//! line in [`run`].

pub mod admission;
pub mod resilience;
pub mod task_queue;
pub mod tiered_cache;

use crate::services::Services;

/// What every section of the tour gets.
#[derive(Debug, Clone)]
pub struct Tour {
    /// Reachable services.
    pub services: Services,
    /// Run each section in a few seconds (CI).
    pub quick: bool,
}

/// The error a section returns; the tour stops at the first one.
pub type SectionError = Box<dyn std::error::Error + Send + Sync>;

impl Tour {
    /// Prints a section heading.
    pub fn heading(&self, title: &str) {
        println!();
        println!("== {title} ==");
    }
}

/// Runs every section in order.
///
/// # Errors
///
/// The first section that fails.
pub async fn run(tour: &Tour) -> Result<(), SectionError> {
    tour.heading("services");
    tour.services.describe();
    tiered_cache::run(tour).await?;
    admission::run(tour).await?;
    resilience::run(tour).await?;
    task_queue::run(tour).await?;
    Ok(())
}
