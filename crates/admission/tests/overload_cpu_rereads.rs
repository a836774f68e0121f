//! A process CPU reading taken soon after another keeps the pressure: two readers close
//! together (a controller's admission and window close, or two controllers sharing one signal)
//! must not lift shedding while the process is busy.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use perfstack_admission::overload::ProcessCpu;
use perfstack_admission::AdmissionController;

/// Far below any real use, so a busy stretch reads as full overload on any number of cores.
const THRESHOLD: f64 = 1e-4;

/// Keeps this thread busy until the process has used `secs` more CPU time, as the signal
/// itself measures it.
fn burn_cpu(secs: f64) {
    let start = ProcessCpu::cpu_seconds().unwrap();
    let mut x = 0_u64;
    while ProcessCpu::cpu_seconds().unwrap() - start < secs {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }
}

fn controller(cpu: Arc<ProcessCpu>) -> AdmissionController {
    AdmissionController::builder().fixed_limit(100).overload_signal(cpu).build().unwrap()
}

// Paused time: the signal measures CPU over exactly the interval the test advances.
#[tokio::test(start_paused = true)]
async fn back_to_back_readings_of_a_busy_process_keep_the_shed_level() {
    let ctl = controller(Arc::new(ProcessCpu::new(THRESHOLD).unwrap()));
    assert_eq!(ctl.refresh_overload(), 0, "the first reading only sets the reference point");
    burn_cpu(0.05);
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(ctl.refresh_overload(), 4);
    assert_eq!(ctl.refresh_overload(), 4, "a second reading right after must not read 0");
}

#[tokio::test(start_paused = true)]
async fn a_cpu_signal_shared_by_two_controllers_keeps_its_pressure() {
    let cpu = Arc::new(ProcessCpu::new(THRESHOLD).unwrap());
    let (a, b) = (controller(Arc::clone(&cpu)), controller(Arc::clone(&cpu)));
    a.refresh_overload();
    b.refresh_overload();
    burn_cpu(0.05);
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(a.refresh_overload(), 4);
    assert_eq!(b.refresh_overload(), 4, "b reads the same busy process");
}
