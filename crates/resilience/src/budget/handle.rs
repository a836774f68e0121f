//! The retry budget handle: deposits, withdrawals and the sliding window behind them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use super::builder::BudgetBuilder;
use super::config::BudgetConfig;
use super::slot::{Retry, Slots};
use super::stats::BudgetStats;
use crate::clock::{default_clock, duration_nanos, SharedClock};
use crate::counter::LazyCounter;
use crate::error::ConfigError;

/// Token units per original request; a retry costs `UNIT / ratio`.
const UNIT: i64 = 1_000;

/// A retry budget: retries (and hedges) are allowed as a ratio of recent requests plus a
/// minimum per second, over a sliding window. Cheap to clone; clones share one budget.
///
/// Call [`deposit`](Self::deposit) once per original request and
/// [`try_withdraw`](Self::try_withdraw) when deciding to retry or hedge, *before* waiting out
/// the backoff: a retry sleeping in backoff already holds its token, so a burst of failures
/// cannot schedule more retries than the budget allows. Withdrawals are a compare-and-swap on
/// the balance, so concurrent callers never overshoot.
///
/// The window's slots are epoch-tagged words `(tick, net value)` changed only by
/// compare-and-swap: a slot is emptied only while it still holds a tick that left the window,
/// so a deposit or withdrawal racing with the rotation to a new tick is never swept up (a
/// withdrawal refunded early, a deposit lost). Every operation in flight can only make the
/// balance lower than the ledger, never higher. A slot holds up to ±2^39 token units (over
/// 5 × 10^8 requests per slot); a deposit that would overflow it is dropped and a withdrawal
/// refused.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::{ManualClock, RetryBudget};
///
/// let budget = RetryBudget::builder().ratio(0.2).min_per_second(0).clock(ManualClock::new()).build().unwrap();
/// for _ in 0..10 {
///     budget.deposit();
/// }
/// assert!(budget.try_withdraw());
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw(), "20 % of 10 requests is 2 retries");
/// ```
#[derive(Debug, Clone)]
pub struct RetryBudget {
    inner: Arc<Bank>,
}

#[derive(Debug)]
struct Bank {
    /// `perfstack_resilience_retry_budget_exhausted_total{name}`.
    exhausted_counter: LazyCounter,
    balance: CachePadded<AtomicI64>,
    slots: Slots,
    slot_nanos: u64,
    last_tick: AtomicU64,
    deposit: i64,
    withdraw: i64,
    reserve: i64,
    deposits: AtomicU64,
    withdrawals: AtomicU64,
    refused: AtomicU64,
    clock: SharedClock,
}

impl RetryBudget {
    /// A builder with the defaults of [`BudgetConfig`].
    pub fn builder() -> BudgetBuilder {
        BudgetBuilder::default()
    }

    /// A budget from a configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn from_config(config: &BudgetConfig) -> Result<Self, ConfigError> {
        Self::assemble(config, default_clock(), Arc::from("default"))
    }

    pub(super) fn assemble(c: &BudgetConfig, clock: SharedClock, name: Arc<str>) -> Result<Self, ConfigError> {
        c.validate()?;
        let (deposit, withdraw) =
            if c.ratio == 0.0 { (0, UNIT) } else { (UNIT, ((UNIT as f64) / c.ratio).ceil().max(1.0) as i64) };
        let window_secs = c.window.as_secs_f64();
        let reserve = (f64::from(c.min_per_second) * window_secs * withdraw as f64) as i64;
        let slot_nanos = duration_nanos(c.window / c.slots).max(1);
        let tick = clock.now_nanos() / slot_nanos;
        Ok(Self {
            inner: Arc::new(Bank {
                exhausted_counter: LazyCounter::new("perfstack_resilience_retry_budget_exhausted_total", name),
                balance: CachePadded::new(AtomicI64::new(0)),
                slots: Slots::new(c.slots, tick),
                slot_nanos,
                last_tick: AtomicU64::new(tick),
                deposit,
                withdraw,
                reserve,
                deposits: AtomicU64::new(0),
                withdrawals: AtomicU64::new(0),
                refused: AtomicU64::new(0),
                clock,
            }),
        })
    }

    /// Records one original request (not a retry).
    #[inline]
    pub fn deposit(&self) {
        let b = &self.inner;
        let tick = b.tick();
        b.deposits.fetch_add(1, Ordering::Relaxed);
        // Slot first, balance second: until both are done the balance is only lower.
        if b.deposit != 0 && b.record(tick, b.deposit) {
            b.balance.fetch_add(b.deposit, Ordering::AcqRel);
        }
    }

    /// Takes one retry (or hedge) from the budget; false when the budget is spent.
    #[inline]
    pub fn try_withdraw(&self) -> bool {
        let b = &self.inner;
        let first = b.tick();
        let (w, reserve) = (b.withdraw, b.reserve);
        let mut taken = b
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bal| (bal + reserve >= w).then_some(bal - w))
            .is_ok();
        if taken {
            // The debit goes to a tick no older than any deposit that paid for it, so it never
            // expires first: `last_tick`, read after the balance check, is at least the tick
            // of every deposit whose balance update that check saw (no second clock read).
            let tick = first.max(b.last_tick.load(Ordering::Acquire));
            if !b.record(tick, -w) {
                b.balance.fetch_add(w, Ordering::AcqRel);
                taken = false;
            }
        }
        if taken {
            b.withdrawals.fetch_add(1, Ordering::Relaxed);
        } else {
            b.refused.fetch_add(1, Ordering::Relaxed);
            b.exhausted_counter.increment();
        }
        taken
    }

    /// Whether `self` and `other` are the same budget (clones of one handle).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// A snapshot.
    #[must_use]
    pub fn stats(&self) -> BudgetStats {
        let b = &self.inner;
        b.tick();
        let avail = (b.balance.load(Ordering::Acquire) + b.reserve) / b.withdraw;
        BudgetStats {
            available: u64::try_from(avail).unwrap_or(0),
            deposits: b.deposits.load(Ordering::Relaxed),
            withdrawals: b.withdrawals.load(Ordering::Relaxed),
            refused: b.refused.load(Ordering::Relaxed),
        }
    }
}

impl Bank {
    /// Expires the slots that left the window since the last tick and returns the current tick.
    /// `last_tick` only moves forward, and never stays below a tick a caller read here (a
    /// caller that loses the compare-and-swap to an older tick tries again); whoever moves it
    /// expires the indices it moved across, each by a CAS that only empties a slot still
    /// holding an expired tick.
    #[inline]
    fn tick(&self) -> u64 {
        let tick = self.clock.now_nanos() / self.slot_nanos;
        let last = self.last_tick.load(Ordering::Acquire);
        if tick > last {
            self.rotate(tick, last);
        }
        tick
    }

    /// Moves `last_tick` on to `tick` (once per slot length: kept out of the hot path).
    #[cold]
    #[inline(never)]
    fn rotate(&self, tick: u64, mut last: u64) {
        while tick > last {
            match self.last_tick.compare_exchange_weak(last, tick, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let span = (tick - last).min(self.slots.len());
                    for k in 0..span {
                        self.slots.expire(tick - k, tick, &self.balance, &self.last_tick);
                    }
                    break;
                }
                Err(cur) => last = cur,
            }
        }
    }

    /// Adds `delta` to the slot of `tick` (re-reading the clock if `tick` left the window while
    /// the caller was delayed); false when the slot cannot hold it.
    #[inline]
    fn record(&self, tick: u64, delta: i64) -> bool {
        match self.slots.add(tick, delta, &self.balance, &self.last_tick) {
            Ok(()) => true,
            Err(Retry::Full) => false,
            Err(Retry::Ahead) => self.record_after_rotation(tick, delta),
        }
    }

    /// [`record`](Self::record) for a tick that left the window while the caller was delayed.
    #[cold]
    #[inline(never)]
    fn record_after_rotation(&self, mut tick: u64, delta: i64) -> bool {
        // A fresh clock read is never a window behind `last_tick`, so one retry settles it;
        // the bound only guards against a clock that goes back.
        for _ in 0..64 {
            tick = tick.max(self.tick());
            match self.slots.add(tick, delta, &self.balance, &self.last_tick) {
                Ok(()) => return true,
                Err(Retry::Full) => return false,
                Err(Retry::Ahead) => {}
            }
        }
        false
    }
}
