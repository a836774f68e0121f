//! [`RequestMeta`]: what the controller needs to know about one request.

use tokio::time::Instant;

use crate::Priority;

/// What the controller needs to know about one request. Cheap to build per request: it
/// borrows the key.
///
/// # Examples
///
/// ```
/// use perfstack_admission::{Priority, RequestMeta};
/// let meta = RequestMeta::new(Priority::High).key("tenant-7");
/// assert_eq!(meta.priority, Priority::High);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMeta<'a> {
    /// How important the request is.
    pub priority: Priority,
    /// When the caller stops waiting; a request past it is refused before doing any work.
    pub deadline: Option<Instant>,
    /// The key of a keyed rate limit (tenant, route, client), if any.
    pub key: Option<&'a str>,
}

impl<'a> RequestMeta<'a> {
    /// A request of this priority with no deadline and no key.
    #[must_use]
    pub fn new(priority: Priority) -> Self {
        Self { priority, deadline: None, key: None }
    }

    /// Sets the deadline.
    #[must_use]
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the rate-limit key.
    #[must_use]
    pub fn key(mut self, key: &'a str) -> Self {
        self.key = Some(key);
        self
    }
}
