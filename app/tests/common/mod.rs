//! Helpers shared by the GUI tests.

use egui_kittest::Harness;
use std::time::{Duration, Instant};

/// Steps the UI until `done` holds (background threads answer on their own time); panics
/// naming `what` after `timeout`.
#[allow(dead_code)] // not every GUI test binary waits on the UI
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

/// Draws a straight stroke from `a` to `b` with the pointer, in `steps` moves.
#[allow(dead_code)] // not every GUI test binary draws
pub fn draw_stroke<S>(
    h: &mut Harness<'_, S>,
    a: eframe::egui::Pos2,
    b: eframe::egui::Pos2,
    steps: usize,
) {
    h.drag_at(a);
    h.step();
    for k in 1..=steps {
        h.hover_at(a + (b - a) * (k as f32 / steps as f32));
        h.step();
    }
    h.drop_at(b);
}

/// A tiny printed-text model trained for 3 steps on synthetic print (seconds); its file.
#[allow(dead_code)] // not every GUI test binary trains
pub fn tiny_ocr_model(dir: &std::path::Path) -> std::path::PathBuf {
    let recipe = serde_json::json!({
        "model": {"preset": "teacher-tiny"},
        "data": {"train": {"synth": {"task": "ocr", "split": "train", "seed": 1, "max_chars": 8}},
                 "valid": {"synth": {"task": "ocr", "split": "valid", "seed": 2, "max_chars": 8}},
                 "valid_lines": 4},
        "optimizer": {"lr": 0.003},
        "schedule": {"steps": 3, "batch_size": 2, "eval_every": 3, "checkpoint_every": 3},
    });
    let cfg: engine::train::config::TrainConfig =
        serde_json::from_value(recipe).expect("a valid recipe");
    let run = dir.join("tiny-model");
    let cancel = engine::train::progress::CancelToken::new();
    let run_in = engine::train::run::Run {
        dir: &run,
        recipe_name: "test",
        resume: false,
        scale: &engine::scale::ScaleConfig::default(),
        cancel: &cancel,
    };
    engine::train::supervised::train(&cfg, run_in, &mut |_| {}).expect("the tiny model trains");
    run.join("train-best.inkm")
}
