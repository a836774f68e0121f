//! The retry budget (Finagle / tower style), shared by retries and hedges.

mod builder;
mod config;
mod handle;
mod slot;
mod stats;

pub use builder::BudgetBuilder;
pub use config::BudgetConfig;
pub use handle::RetryBudget;
pub use stats::BudgetStats;
