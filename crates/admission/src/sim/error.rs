//! [`ScenarioError`]: a scenario the simulation refuses before scheduling any request.

use crate::ConfigError;

/// A [`Scenario`](super::Scenario) that cannot be simulated, refused by
/// [`run`](super::run) before any request is scheduled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A setting is NaN, negative, infinite, zero where it must not be, or absurdly large.
    #[error("scenario {field}: {problem}")]
    Invalid {
        /// The setting (`phases[2].load`, `mix`, `server.workers`...).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The controller settings (limit, shares, queue) are refused by its builder.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl ScenarioError {
    pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), problem: problem.into() }
    }
}
