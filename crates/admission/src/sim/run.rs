//! [`run`]: one scenario, open loop, through the real controller.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::report::{ClassReport, SimReport, WindowPoint};
use super::rng::SplitMix64;
use super::scenario::Scenario;
use super::server::{self, Job};
use super::ScenarioError;
use crate::{Priority, RequestMeta};

const WINDOW: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Record {
    classes: [ClassReport; 5],
    windows: Vec<(WindowPoint, u64)>, // point + latency sum in µs
}

/// Runs one scenario; call it on a runtime with a paused clock (see the module docs).
///
/// # Errors
///
/// [`ScenarioError`] for a scenario that cannot be simulated (see [`Scenario::validate`]) or
/// whose controller settings are refused.
pub async fn run(sc: &Scenario) -> Result<SimReport, ScenarioError> {
    sc.validate()?;
    let ctl = sc.controller()?;
    let busy = Arc::new(server::Busy::default());
    let server = server::spawn(sc.server.workers, Arc::clone(&busy));
    let start = Instant::now();
    let total = sc.duration();
    let n_windows = (total.as_millis() / WINDOW.as_millis()) as usize + 1;
    let rec = Arc::new(Mutex::new(Record {
        windows: (0..n_windows).map(|i| (WindowPoint { t: i as f64 * 0.1, ..WindowPoint::default() }, 0)).collect(),
        ..Record::default()
    }));
    // Limit sampler: one point per window.
    let sampler = ctl.clone().map(|ctl| {
        let rec = Arc::clone(&rec);
        tokio::spawn(async move {
            for i in 0..n_windows {
                tokio::time::sleep_until(start + WINDOW * (i as u32 + 1)).await;
                if let Some(w) = rec.lock().windows.get_mut(i) {
                    w.0.limit = ctl.limit();
                }
            }
        })
    });
    let mut rng = SplitMix64::new(sc.seed);
    let cap = sc.server.capacity();
    // Finished requests are reaped as the run goes: memory follows what is in flight, not
    // every request of the run.
    let mut tasks = JoinSet::new();
    let mut t = 0.0_f64;
    let mut phase_start = 0.0_f64;
    for phase in &sc.phases {
        let end = phase_start + phase.duration.as_secs_f64();
        let rate = phase.load * cap;
        // An idle phase (load 0, or −0.0, which passes `load < 0.0`) schedules nothing: its
        // arrival gap would be infinite, or −∞.
        if rate > 0.0 {
            loop {
                t += rng.exp(1.0 / rate);
                if t >= end {
                    break;
                }
                let scheduled = start + Duration::from_secs_f64(t);
                let service = sc.server.service.draw(&mut rng);
                let priority = pick(&sc.mix, rng.next_f64());
                let counted = Duration::from_secs_f64(t) >= sc.warmup;
                let window = (t / WINDOW.as_secs_f64()) as usize;
                tokio::time::sleep_until(scheduled).await;
                while tasks.try_join_next().is_some() {}
                let (ctl, server, rec, deadline) = (ctl.clone(), server.clone(), Arc::clone(&rec), sc.deadline);
                tasks.spawn(async move {
                    let meta = RequestMeta::new(priority).deadline(scheduled + deadline);
                    let mut permit = match &ctl {
                        None => None,
                        Some(c) => match c.acquire(&meta).await {
                            Ok(p) => Some(p),
                            Err(_) => {
                                rec.lock().note(window, counted, priority, Outcome::Shed);
                                return;
                            }
                        },
                    };
                    let (done, answered) = oneshot::channel();
                    let _ = server.send(Job { service, counted, done });
                    let outcome = match tokio::time::timeout_at(scheduled + deadline, answered).await {
                        Ok(_) => Outcome::Ok(Instant::now().duration_since(scheduled)),
                        Err(_) => {
                            if let Some(p) = permit.as_mut() {
                                p.dropped();
                            }
                            Outcome::Timeout
                        }
                    };
                    drop(permit);
                    rec.lock().note(window, counted, priority, outcome);
                });
            }
        }
        t = end;
        phase_start = end;
    }
    while tasks.join_next().await.is_some() {}
    if let Some(s) = sampler {
        s.abort();
    }
    let rec = std::mem::take(&mut *rec.lock());
    let (jobs, busy) = (busy.jobs.load(Ordering::Relaxed), busy.nanos.load(Ordering::Relaxed));
    Ok(SimReport {
        strategy: sc.strategy.label(),
        capacity: cap,
        served_capacity: if busy == 0 {
            cap
        } else {
            sc.server.workers as f64 * jobs as f64 / Duration::from_nanos(busy).as_secs_f64()
        },
        measured_secs: total.saturating_sub(sc.warmup).as_secs_f64(),
        classes: rec.classes,
        windows: rec
            .windows
            .into_iter()
            .map(|(mut p, sum)| {
                p.mean_latency_ms = if p.ok == 0 { 0.0 } else { sum as f64 / p.ok as f64 / 1000.0 };
                p
            })
            .collect(),
    })
}

enum Outcome {
    Shed,
    Ok(Duration),
    Timeout,
}

impl Record {
    fn note(&mut self, window: usize, counted: bool, p: Priority, o: Outcome) {
        let us = match o {
            Outcome::Ok(d) => Some(u32::try_from(d.as_micros()).unwrap_or(u32::MAX)),
            _ => None,
        };
        if let Some((w, sum)) = self.windows.get_mut(window) {
            w.offered += 1;
            match (&o, us) {
                (Outcome::Shed, _) => w.shed += 1,
                (Outcome::Ok(_), Some(us)) => {
                    w.ok += 1;
                    *sum += u64::from(us);
                }
                _ => {}
            }
        }
        if !counted {
            return;
        }
        let c = &mut self.classes[p.index()];
        c.offered += 1;
        match o {
            Outcome::Shed => c.shed += 1,
            Outcome::Timeout => c.timeouts += 1,
            Outcome::Ok(_) => {
                c.ok += 1;
                c.latencies_us.extend(us);
            }
        }
    }
}

fn pick(mix: &[f64; 5], u: f64) -> Priority {
    let mut acc = 0.0;
    for (i, share) in mix.iter().enumerate() {
        acc += share;
        if u <= acc {
            return Priority::ALL[i];
        }
    }
    Priority::ALL[mix.iter().rposition(|s| *s > 0.0).unwrap_or(1)]
}
