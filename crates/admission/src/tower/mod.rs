//! tower middleware (feature `tower`): [`AdmissionLayer`] puts an [`AdmissionController`] in
//! front of an http service. A refused request gets **429** (rate limit) or **503** (overload,
//! concurrency, deadline, full queue) with a `Retry-After` header, without reaching the
//! service. Every clone of the layer and of the service shares one controller, so a limit
//! holds across all connections.
//!
//! The priority comes from a header (default `x-priority`: `low`, `normal`, `high`, `urgent`,
//! `critical`), or from a classifier over the request's head
//! ([`AdmissionLayer::priority_fn`], which then replaces the header), and the keyed
//! rate-limit key from another header (none by default) or from
//! [`AdmissionLayer::key_fn`]. A client can send any priority
//! header it likes: trust it only from an internal proxy, strip or overwrite it at the edge,
//! or derive the priority from the authenticated identity with `priority_fn`.
//!
//! [`AdmissionController`]: crate::AdmissionController

pub mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::AdmissionLayer;
pub use service::Admission;
