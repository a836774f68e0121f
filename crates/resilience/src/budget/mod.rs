//! The retry budget (Finagle / tower style), shared by retries and hedges.

mod bank;
mod config;
mod slot;

pub use bank::{BudgetBuilder, BudgetStats, RetryBudget};
pub use config::BudgetConfig;
