//! Helpers shared by the GUI tests.

use egui_kittest::Harness;
use std::time::{Duration, Instant};

/// Steps the UI until `done` holds (background threads answer on their own time); panics
/// naming `what` after `timeout`.
pub fn run_until<S>(
    h: &mut Harness<'_, S>,
    what: &str,
    timeout: Duration,
    done: impl Fn(&S) -> bool,
) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        h.step();
        if done(h.state()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for: {what}");
}
