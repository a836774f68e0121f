//! The controller's metric handles, resolved once at build (names in the crate README).

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, SharedString};

use super::RejectReason;
use crate::Priority;

/// Metric handles resolved once when the controller is built, so reporting never allocates.
/// (A recorder installed after the controller was built does not see it.)
#[derive(Debug)]
pub(crate) struct Handles {
    pub(crate) limit: Gauge,
    pub(crate) inflight: Gauge,
    pub(crate) rtt: Histogram,
    pub(crate) shed_levels: Gauge,
    /// `[reason][priority]`.
    pub(crate) rejected: [[Counter; 5]; 5],
}

impl Handles {
    pub(crate) fn new(name: &str) -> Self {
        // One shared copy of the name for all 29 handles' labels, however long it is.
        let n = SharedString::from(Arc::<str>::from(name));
        Self {
            limit: metrics::gauge!("perfstack_admission_limit_requests", "name" => n.clone()),
            inflight: metrics::gauge!("perfstack_admission_inflight_requests", "name" => n.clone()),
            rtt: metrics::histogram!("perfstack_admission_rtt_seconds", "name" => n.clone()),
            shed_levels: metrics::gauge!("perfstack_admission_overload_shed_level", "name" => n.clone()),
            rejected: RejectReason::ALL.map(|r| {
                Priority::ALL.map(|p| {
                    metrics::counter!("perfstack_admission_rejected_total", "name" => n.clone(),
                        "reason" => r.as_str(), "priority" => p.as_str())
                })
            }),
        }
    }
}
