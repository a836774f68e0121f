//! [`AdmissionLayer`]: wraps services in [`Admission`](super::Admission), sharing one controller.

use std::sync::Arc;

use http::request::Parts;
use http::HeaderName;
use tower_layer::Layer;

use super::Admission;
use crate::{AdmissionController, Priority};

/// Wraps services in [`Admission`].
///
/// # Examples
///
/// ```
/// use http::HeaderName;
/// use perfstack_admission::tower::AdmissionLayer;
/// use perfstack_admission::AdmissionController;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = AdmissionLayer::new(AdmissionController::builder().fixed_limit(64).build()?)
///     .priority_header(HeaderName::from_static("x-priority"))
///     .key_header(HeaderName::from_static("x-tenant"));
/// # let _ = layer; Ok(()) }
/// ```
///
/// # Trusting the priority header
///
/// Any client can send `x-priority: critical`. Read the header only when an internal proxy
/// sets it, or strip / overwrite it at the edge; otherwise derive the priority from what the
/// request has proven (an authenticated identity an earlier layer put in the extensions, the
/// route) with [`priority_fn`](Self::priority_fn), which replaces the header entirely.
#[derive(Debug, Clone)]
pub struct AdmissionLayer {
    pub(crate) config: Arc<LayerConfig>,
}

/// Decides a request's priority from its head (method, URI, headers, extensions).
pub(crate) type PriorityFn = Arc<dyn Fn(&Parts) -> Priority + Send + Sync>;

/// Finds a request's rate-limit key in its head.
pub(crate) type KeyFn = Arc<dyn for<'a> Fn(&'a Parts) -> Option<&'a str> + Send + Sync>;

pub(crate) struct LayerConfig {
    pub(crate) controller: AdmissionController,
    pub(crate) priority_fn: Option<PriorityFn>,
    pub(crate) priority_header: Option<HeaderName>,
    pub(crate) key_header: Option<HeaderName>,
    pub(crate) key_fn: Option<KeyFn>,
    pub(crate) default_priority: Priority,
    pub(crate) queue: bool,
}

impl std::fmt::Debug for LayerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerConfig")
            .field("controller", &self.controller)
            .field("priority_fn", &self.priority_fn.as_ref().map(|_| "Fn(&Parts) -> Priority"))
            .field("priority_header", &self.priority_header)
            .field("key_header", &self.key_header)
            .field("key_fn", &self.key_fn.as_ref().map(|_| "Fn(&Parts) -> Option<&str>"))
            .field("default_priority", &self.default_priority)
            .field("queue", &self.queue)
            .finish()
    }
}

impl AdmissionLayer {
    /// A layer around `controller`; priority from `x-priority`, default `Normal`, no key, waits
    /// in the controller's queue when it has one.
    #[must_use]
    pub fn new(controller: AdmissionController) -> Self {
        Self {
            config: Arc::new(LayerConfig {
                controller,
                priority_fn: None,
                priority_header: Some(HeaderName::from_static("x-priority")),
                key_header: None,
                key_fn: None,
                default_priority: Priority::Normal,
                queue: true,
            }),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut LayerConfig)) -> Self {
        if let Some(c) = Arc::get_mut(&mut self.config) {
            f(c);
        } else {
            let old = &self.config;
            let mut c = LayerConfig {
                controller: old.controller.clone(),
                priority_fn: old.priority_fn.clone(),
                priority_header: old.priority_header.clone(),
                key_header: old.key_header.clone(),
                key_fn: old.key_fn.clone(),
                default_priority: old.default_priority,
                queue: old.queue,
            };
            f(&mut c);
            self.config = Arc::new(c);
        }
        self
    }

    /// The header the priority is read from (default `x-priority`). A typed name, so a
    /// misspelt one fails where it is written (`HeaderName::from_static` panics at startup on
    /// an invalid name, `HeaderName::try_from` returns the error) instead of silently turning
    /// priorities off.
    #[must_use]
    pub fn priority_header(self, name: HeaderName) -> Self {
        self.with(|c| c.priority_header = Some(name))
    }

    /// Decides each request's priority with `f`, from the request's head (method, URI,
    /// headers and extensions, e.g. the identity an authentication layer inserted). When set,
    /// the priority header is not read at all: a client cannot raise its own priority.
    /// Stored once in an `Arc`; calling it allocates nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_admission::tower::AdmissionLayer;
    /// use perfstack_admission::{AdmissionController, Priority};
    ///
    /// /// Put in the extensions by the authentication layer.
    /// #[derive(Clone)]
    /// struct Plan { paid: bool }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = AdmissionLayer::new(AdmissionController::builder().fixed_limit(64).build()?)
    ///     .priority_fn(|req: &http::request::Parts| match req.extensions.get::<Plan>() {
    ///         Some(Plan { paid: true }) => Priority::High,
    ///         Some(_) => Priority::Normal,
    ///         None => Priority::Low,
    ///     });
    /// # let _ = layer; Ok(()) }
    /// ```
    #[must_use]
    pub fn priority_fn(self, f: impl Fn(&Parts) -> Priority + Send + Sync + 'static) -> Self {
        let f: PriorityFn = Arc::new(f);
        self.with(|c| c.priority_fn = Some(f))
    }

    /// The header holding the keyed rate-limit key (tenant, client); none by default.
    #[must_use]
    pub fn key_header(self, name: HeaderName) -> Self {
        self.with(|c| c.key_header = Some(name))
    }

    /// Finds each request's keyed rate-limit key with `f`, from the request's head (e.g. the
    /// tenant an authentication layer put in the extensions). When set, the key header is not
    /// read. `None` checks no keyed limit for that request.
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_admission::tower::AdmissionLayer;
    /// use perfstack_admission::AdmissionController;
    ///
    /// #[derive(Clone)]
    /// struct Tenant(String);
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = AdmissionLayer::new(AdmissionController::builder().fixed_limit(64).build()?)
    ///     .key_fn(|req| req.extensions.get::<Tenant>().map(|t| t.0.as_str()));
    /// # let _ = layer; Ok(()) }
    /// ```
    #[must_use]
    pub fn key_fn<F>(self, f: F) -> Self
    where
        F: for<'a> Fn(&'a Parts) -> Option<&'a str> + Send + Sync + 'static,
    {
        let f: KeyFn = Arc::new(f);
        self.with(|c| c.key_fn = Some(f))
    }

    /// Priority of requests without (or with an unreadable) priority header; unused with
    /// [`priority_fn`](Self::priority_fn).
    #[must_use]
    pub fn default_priority(self, p: Priority) -> Self {
        self.with(|c| c.default_priority = p)
    }

    /// `false`: never wait in the queue, refuse at once (`try_acquire`).
    #[must_use]
    pub fn queue(self, wait: bool) -> Self {
        self.with(|c| c.queue = wait)
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admission { inner, config: Arc::clone(&self.config) }
    }
}
