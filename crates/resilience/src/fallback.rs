//! Fallback: a value or an async function that answers when a call fails.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::counter::LazyCounter;
use crate::error::Error;

pub(crate) type BoxFut<T, E> = Pin<Box<dyn Future<Output = Result<T, Error<E>>> + Send>>;
type Handler<T, E> = Arc<dyn Fn(Error<E>) -> BoxFut<T, E> + Send + Sync>;
type Predicate<E> = Arc<dyn Fn(&Error<E>) -> bool + Send + Sync>;

/// Answers in place of a failed call: on any error by default, or only on the errors
/// [`when`](Self::when) selects (an open breaker, a timeout, a rejection, …). Cheap to clone;
/// clones share the name and the [`used`](Self::used) count.
///
/// # Examples
///
/// ```
/// use perfstack_resilience::{Error, Fallback};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let cached = Fallback::value(vec!["cached"]).when(|e: &Error<&str>| e.is_rejection() || matches!(e, Error::Timeout(_)));
/// let open = async { Err(Error::<&str>::Throttled) };
/// assert_eq!(cached.call(open).await.unwrap(), vec!["cached"]);
/// let failed = async { Err(Error::Inner("boom")) };
/// assert!(cached.call(failed).await.is_err(), "not selected by `when`");
/// # }
/// ```
pub struct Fallback<T, E> {
    handler: Handler<T, E>,
    when: Option<Predicate<E>>,
    usage: Arc<Usage>,
}

/// How often the fallback answered, shared by every clone.
#[derive(Debug)]
struct Usage {
    used: AtomicU64,
    /// `perfstack_resilience_fallback_used_total{name}`.
    counter: LazyCounter,
}

impl Usage {
    fn new(name: Arc<str>, used: u64) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicU64::new(used),
            counter: LazyCounter::new("perfstack_resilience_fallback_used_total", name),
        })
    }
}

impl<T, E> Clone for Fallback<T, E> {
    fn clone(&self) -> Self {
        Self { handler: self.handler.clone(), when: self.when.clone(), usage: self.usage.clone() }
    }
}

impl<T, E> std::fmt::Debug for Fallback<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("name", &self.name())
            .field("selective", &self.when.is_some())
            .field("used", &self.used())
            .finish_non_exhaustive()
    }
}

impl<T, E> Fallback<T, E> {
    /// How many times the fallback was invoked for a selected error, across every clone,
    /// whether its own answer then succeeded or failed (like Polly's `OnFallback`).
    #[must_use]
    pub fn used(&self) -> u64 {
        self.usage.used.load(Ordering::Relaxed)
    }

    /// The name in metric labels (default `"default"`).
    #[must_use]
    pub fn name(&self) -> &str {
        self.usage.counter.name()
    }

    /// The same fallback under `name` in metric labels (`name="..."`). Name it before cloning:
    /// the renamed fallback starts a count of its own (from the current one), which its later
    /// clones share.
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_resilience::Fallback;
    ///
    /// let f = Fallback::<u32, std::io::Error>::value(0).with_name("prices");
    /// assert_eq!(f.name(), "prices");
    /// ```
    #[must_use]
    pub fn with_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.usage = Usage::new(name.into(), self.used());
        self
    }

    /// The fallback's answer to `e` when `e` is selected, or `e` back untouched.
    pub(crate) fn recover(&self, e: Error<E>) -> Result<BoxFut<T, E>, Error<E>> {
        if self.when.as_ref().is_some_and(|p| !p(&e)) {
            return Err(e);
        }
        self.usage.used.fetch_add(1, Ordering::Relaxed);
        self.usage.counter.increment();
        Ok((self.handler)(e))
    }
}

impl<T, E> Fallback<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// Answers with a clone of `value`.
    pub fn value(value: T) -> Self
    where
        T: Clone + Sync,
    {
        Self::from_fn(move |_| {
            let v = value.clone();
            async move { Ok(v) }
        })
    }

    /// Answers with an async function of the error (it may fail too).
    pub fn from_fn<F, Fut>(f: F) -> Self
    where
        F: Fn(Error<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error<E>>> + Send + 'static,
    {
        Self { handler: Arc::new(move |e| Box::pin(f(e))), when: None, usage: Usage::new(Arc::from("default"), 0) }
    }

    /// Only errors for which `pred` is true get the fallback.
    #[must_use]
    pub fn when(mut self, pred: impl Fn(&Error<E>) -> bool + Send + Sync + 'static) -> Self {
        self.when = Some(Arc::new(pred));
        self
    }

    /// Runs `fut`; on a selected error, the fallback answers.
    ///
    /// # Errors
    ///
    /// An error not selected by `when`, or the fallback's own error.
    pub async fn call<F>(&self, fut: F) -> Result<T, Error<E>>
    where
        F: Future<Output = Result<T, Error<E>>>,
    {
        match fut.await {
            Ok(v) => Ok(v),
            Err(e) => self.recover(e)?.await,
        }
    }
}
