//! Soak: 1,000 mixed requests to the recognize view with the shipped models and language
//! model: strokes on the canvas, images, bad images, clearing, switching between the canvas
//! and images, student model switches (hwr <-> ocr student) and language-model toggles. No
//! panic, every request answered (results arrive in request order: ids never go back), and
//! memory flat after warm-up (resident size at the end within 64 MB of the size after the
//! first 100 requests; the peak is printed).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use app::recognize_view::{RecognizeView, Settings};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::Duration;

/// Resident memory of this process, bytes (Linux; 0 elsewhere).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn harness(view: RecognizeView) -> Harness<'static, RecognizeView> {
    Harness::builder()
        .with_size([900.0, 700.0])
        .build_ui_state(|ui, v: &mut RecognizeView| v.ui(ui), view)
}

/// Steps until a result newer than `last` is shown; returns its id.
fn next_result(h: &mut Harness<'static, RecognizeView>, last: u64) -> u64 {
    common::run_until(h, "a newer result", Duration::from_secs(30), |v| {
        v.result.as_ref().is_some_and(|r| r.id > last) && !v.is_loading()
    });
    h.state().result.as_ref().unwrap().id
}

#[test]
fn a_thousand_mixed_requests_keep_order_and_memory() {
    let settings = Settings {
        debounce_ms: 0,
        ..Settings::default()
    };
    let mut h = harness(RecognizeView::with_default_models(settings, || {}));
    common::run_until(&mut h, "the shipped models", Duration::from_secs(60), |v| {
        !v.is_loading()
    });
    let samples = app::models::samples_dir();
    let images: Vec<_> = ["hwr-424242-000000.png", "hwr-424242-000001.png"]
        .iter()
        .map(|n| samples.join(n))
        .filter(|p| p.is_file())
        .collect();
    assert!(
        !images.is_empty(),
        "no shipped samples in {}",
        samples.display()
    );
    let dir = std::env::temp_dir().join(format!("inkling-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.png");
    std::fs::write(&junk, b"not an image at all").unwrap();
    let models = engine::assets::assets_dir().join("models");
    let students = [
        models.join("hwr-student-cpu.inkm"),
        models.join("ocr-student-cpu.inkm"),
    ];
    let (mut last, mut warm, mut peak) = (0u64, 0u64, 0u64);
    let mut switches = 0;
    for i in 0..1000usize {
        match i % 10 {
            // Strokes on the canvas (back to the canvas first when an image is shown).
            0..=3 => {
                if h.query_by_label("Clear").is_none() {
                    h.get_by_label("Write").click();
                    h.run_ok();
                }
                let canvas = h.get_by_label("Writing canvas").rect();
                let x = 30.0 + 60.0 * (i % 10) as f32 + (i % 7) as f32;
                let a = canvas.left_center() + eframe::egui::vec2(x, -10.0);
                let b = a + eframe::egui::vec2(25.0, 8.0 + (i % 5) as f32 * 4.0);
                common::draw_stroke(&mut h, a, b, 4);
                last = next_result(&mut h, last);
            }
            4 | 5 => {
                h.state_mut().load_image(&images[i % images.len()]);
                last = next_result(&mut h, last);
            }
            6 => {
                h.state_mut().message = None;
                h.state_mut().load_image(&junk);
                common::run_until(
                    &mut h,
                    "the bad image's message",
                    Duration::from_secs(30),
                    |v| {
                        !v.is_loading()
                            && v.message.as_deref().is_some_and(|m| m.contains("junk.png"))
                    },
                );
            }
            7 => {
                if h.query_by_label("Clear").is_none() {
                    h.get_by_label("Write").click();
                    h.run_ok();
                }
                h.get_by_label("Clear").click();
                h.run_ok();
            }
            8 if i % 50 == 8 => {
                switches += 1;
                h.state_mut()
                    .set_model(true, &students[switches % students.len()]);
                common::run_until(&mut h, "the switched model", Duration::from_secs(30), |v| {
                    !v.is_loading()
                });
            }
            9 if i % 100 == 9 => {
                let on = h.state().settings.language_model;
                h.state_mut().set_language_model(!on);
                common::run_until(&mut h, "the LM toggle", Duration::from_secs(30), |v| {
                    !v.is_loading()
                });
            }
            _ => {
                h.state_mut().load_image(&images[0]);
                last = next_result(&mut h, last);
            }
        }
        let now = rss();
        peak = peak.max(now);
        if i == 99 {
            warm = now;
        }
    }
    let end = rss();
    eprintln!(
        "soak: 1000 requests, last result id {last}, {switches} model switches; resident {} MB \
         after 100, {} MB at the end, peak {} MB",
        warm >> 20,
        end >> 20,
        peak >> 20
    );
    assert!(
        end <= warm + (64 << 20),
        "memory grew from {} MB to {} MB",
        warm >> 20,
        end >> 20
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
