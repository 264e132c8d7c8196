//! Headless GUI tests (egui_kittest): drawing on the canvas sends a recognition request and
//! shows the result of both models; a bad image or model file is an error message in the UI;
//! undo/clear. A fake recognizer stands behind the engine's `LineRecognizer` trait, so the
//! tests check the GUI's plumbing, not a model's accuracy (one test loads the shipped models and
//! language model, for the "Language model" switch).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use app::canvas::Canvas;
use app::models::LoadedModel;
use app::recognize_view::{RecognizeView, Settings};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use engine::data::image::normalize::InkLine;
use engine::recognize::{Alternative, LineRecognizer, Recognition, RecognizedChar};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Answers `text` for every line and counts its calls.
struct Fake {
    text: &'static str,
    calls: Arc<AtomicUsize>,
}

impl LineRecognizer for Fake {
    fn height(&self) -> usize {
        40
    }

    fn recognize_lines(&self, lines: &[InkLine]) -> Vec<Recognition> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        lines
            .iter()
            .map(|_| Recognition {
                text: self.text.into(),
                confidence: 0.9,
                chars: self
                    .text
                    .chars()
                    .enumerate()
                    .map(|(i, ch)| RecognizedChar {
                        ch,
                        conf: 0.9,
                        x0: i as f32,
                        x1: i as f32 + 1.0,
                    })
                    .collect(),
                ms: 0.0,
                alternatives: vec![
                    Alternative {
                        text: self.text.into(),
                        score: -1.0,
                    },
                    Alternative {
                        text: format!("{}!", self.text),
                        score: -3.5,
                    },
                ],
            })
            .collect()
    }
}

fn fake(text: &'static str, calls: &Arc<AtomicUsize>) -> LoadedModel {
    LoadedModel {
        path: format!("{text}.inkm").into(),
        recognizer: Arc::new(Fake {
            text,
            calls: calls.clone(),
        }),
        summary: "fake".into(),
    }
}

fn view(calls: &Arc<AtomicUsize>) -> RecognizeView {
    let settings = Settings {
        debounce_ms: 0,
        ..Settings::default()
    };
    RecognizeView::new(
        settings,
        Some(fake("hel1o", calls)),
        Some(fake("hello", calls)),
        || {},
    )
}

/// Steps the UI until `done` holds (the worker answers on its own thread).
fn run_until(harness: &mut Harness<'_, RecognizeView>, done: impl Fn(&RecognizeView) -> bool) {
    common::run_until(harness, "the UI", std::time::Duration::from_secs(2), done);
}

fn harness(view: RecognizeView) -> Harness<'static, RecognizeView> {
    Harness::builder()
        .with_size([900.0, 700.0])
        .build_ui_state(|ui, v: &mut RecognizeView| v.ui(ui), view)
}

#[test]
fn a_stroke_on_the_canvas_is_recognized_by_student_and_teacher() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = harness(view(&calls));
    h.run_ok();
    let canvas = h.get_by_label("Writing canvas").rect();
    let (a, b) = (canvas.left_center() + egui_vec(40.0, 0.0), canvas.center());
    common::draw_stroke(&mut h, a, b, 10);
    run_until(&mut h, |v| v.result.is_some());
    assert_eq!(h.state().canvas.strokes.len(), 1);
    assert!(h.state().canvas.strokes[0].points.len() >= 5);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "student and teacher each ran once, after one untimed warm-up run each"
    );
    h.run_ok();
    // Both texts are shown, with the speedup line and the disagreement note.
    assert!(
        h.query_by_label_contains("the highlighted characters differ")
            .is_some()
    );
    h.get_by_label("Copy text");
    h.get_by_label("Save text…");
    // The beam's other readings are offered as candidates, with scores relative to the best.
    h.get_all_by_label("Candidates").next().unwrap().click();
    h.run_ok();
    assert!(h.query_by_label_contains("!   (-2.50)").is_some());
    // Undo empties the canvas and the result goes away.
    h.get_by_label("Undo").click();
    h.run_ok();
    assert!(h.state().canvas.is_empty());
    assert!(h.state().result.is_none());
}

#[test]
fn bad_images_and_model_files_are_messages_not_panics() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = harness(view(&calls));
    h.run_ok();
    let dir = std::env::temp_dir().join(format!("inkling-kittest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.png");
    std::fs::write(&junk, b"not an image").unwrap();
    h.state_mut().load_image(&junk);
    run_until(&mut h, |v| !v.is_loading());
    h.run_ok();
    let msg = h.state().message.clone().unwrap_or_default();
    assert!(msg.contains("junk.png"), "{msg}");
    assert!(h.query_by_label_contains("junk.png").is_some());
    // A model file that is not one: typed into the field, then "Use as student".
    let not_a_model = dir.join("notes.inkm");
    std::fs::write(&not_a_model, b"hello").unwrap();
    h.get_by_label("Model file:");
    let field = h
        .get_all_by_role(eframe::egui::Role::TextInput)
        .next()
        .unwrap();
    field.focus();
    field.type_text(not_a_model.to_str().unwrap());
    h.run_ok();
    h.get_by_label("Use as student").click();
    h.run_ok();
    // The file is read off the UI thread; its error is the message once the load is done.
    run_until(&mut h, |v| !v.is_loading());
    h.run_ok();
    let msg = h.state().message.clone().unwrap_or_default();
    assert!(msg.contains("notes.inkm"), "{msg}");
    // No image on the clipboard (or no clipboard at all, headless): a message.
    h.get_by_label("Paste image").click();
    h.run_ok();
    let msg = h.state().message.clone().unwrap_or_default();
    assert!(msg.contains("clipboard"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_image_file_is_recognized() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = harness(view(&calls));
    let dir = std::env::temp_dir().join(format!("inkling-kittest-img-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("line.png");
    let mut img = image::GrayImage::from_pixel(200, 40, image::Luma([255]));
    (20..180).for_each(|x| img.put_pixel(x, 20, image::Luma([0])));
    img.save(&path).unwrap();
    h.state_mut().load_image(&path);
    run_until(&mut h, |v| v.result.is_some());
    assert!(h.state().message.is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_page_of_several_lines_is_split_and_each_line_recognized() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = harness(view(&calls));
    let dir = std::env::temp_dir().join(format!("inkling-kittest-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("page.png");
    // Three "lines" of dashes on a white page.
    let mut img = image::GrayImage::from_pixel(300, 200, image::Luma([255]));
    for top in [20u32, 85, 150] {
        for y in top..top + 25 {
            for x in 20..280 {
                if x % 9 != 0 {
                    img.put_pixel(x, y, image::Luma([0]));
                }
            }
        }
    }
    img.save(&path).unwrap();
    h.state_mut().load_image(&path);
    run_until(&mut h, |v| v.result.is_some());
    let lines = h.state().result.as_ref().unwrap().lines.len();
    assert_eq!(lines, 3);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        8,
        "student and teacher on each line, after one untimed warm-up run each"
    );
    h.run_ok();
    assert!(h.query_by_label("3 lines found").is_some());
    // Dragging a rectangle over the middle line recognizes that region alone.
    let shown = h.get_by_role(eframe::egui::Role::Image).rect();
    let scale = shown.width() / 300.0;
    let at = |x: f32, y: f32| shown.min + egui_vec(x * scale, y * scale);
    h.drag_at(at(10.0, 75.0));
    h.step();
    h.hover_at(at(150.0, 100.0));
    h.step();
    h.hover_at(at(290.0, 120.0));
    h.step();
    h.drop_at(at(290.0, 120.0));
    let before = calls.load(Ordering::SeqCst);
    run_until(&mut h, |v| {
        v.result.as_ref().is_some_and(|r| r.lines.is_empty())
    });
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before + 2,
        "one region, both models"
    );
    h.run_ok();
    assert!(h.query_by_label("Whole image").is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rasterized_strokes_read_like_an_image_file() {
    // The canvas goes through the engine's normalization: a stroke becomes a line of ink.
    let mut c = Canvas::default();
    let points: Vec<(f32, f32)> = (0..50)
        .map(|i| (i as f32 * 4.0, 30.0 + (i % 5) as f32))
        .collect();
    c.push_stroke(engine::data::ink::InkStroke {
        width: Some(4.0),
        ..engine::data::ink::InkStroke::from_xy(&points)
    });
    let gray = c.rasterize().unwrap();
    let line =
        engine::data::image::normalize::normalize(&gray, 40, std::path::Path::new("<canvas>"))
            .unwrap();
    assert_eq!(line.height, 40);
    assert!(line.width > 40);
}

fn egui_vec(x: f32, y: f32) -> eframe::egui::Vec2 {
    eframe::egui::vec2(x, y)
}

#[test]
fn browse_without_a_desktop_portal_comes_back_quietly() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        // A desktop session would open a real dialog and wait for a person.
        return;
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = harness(view(&calls));
    h.run_ok();
    h.get_by_label("Browse…").click();
    h.step();
    assert!(h.state().dialog_open());
    // No portal answers here: the dialog thread reports a cancel and the button comes back.
    run_until(&mut h, |v| !v.dialog_open());
    assert!(h.state().message.is_none());
}

#[test]
fn a_shipped_sample_loads_from_the_samples_menu() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = harness(view(&calls));
    h.get_by_label("Samples").click();
    h.run_ok();
    h.get_by_label("note-3-lines.png").click();
    run_until(&mut h, |v| v.result.is_some());
    assert!(h.state().message.is_none(), "{:?}", h.state().message);
    assert_eq!(h.state().result.as_ref().unwrap().lines.len(), 3);
}

/// The shipped models with the shipped language model (the app's default): the "Language
/// model" switch reloads both models with the other decoder and reads the input again.
#[test]
fn the_language_model_switch_reloads_the_shipped_models() {
    let settings = Settings {
        debounce_ms: 0,
        ..Settings::default()
    };
    let view = RecognizeView::with_default_models(settings, || {});
    // The models and the language model load off the UI thread; the view says so meanwhile.
    assert!(view.is_loading());
    assert_eq!(view.message.as_deref(), Some("Loading the models…"));
    let mut h = harness(view);
    common::run_until(&mut h, "the shipped models", Duration::from_secs(30), |v| {
        !v.is_loading()
    });
    h.run_ok();
    assert!(h.state().message.is_none(), "{:?}", h.state().message);
    assert!(h.state().has_language_model());
    let sample = app::models::samples_dir().join("hwr-424242-000000.png");
    let truth = std::fs::read_to_string(sample.with_extension("gt.txt")).unwrap();
    h.state_mut().load_image(&sample);
    let read = |h: &mut Harness<'static, RecognizeView>| {
        run_until(h, |v| v.result.is_some());
        let outcome = h.state_mut().result.take().unwrap();
        let student = outcome.student.unwrap().unwrap();
        let teacher = outcome.teacher.unwrap().unwrap();
        assert!(!student.alternatives.is_empty());
        (student.text, teacher.text)
    };
    let with_lm = read(&mut h);
    h.get_by_label("Language model").click();
    h.run_ok();
    assert!(!h.state().settings.language_model);
    common::run_until(
        &mut h,
        "the models reloaded",
        Duration::from_secs(30),
        |v| !v.is_loading(),
    );
    let without = read(&mut h);
    assert!(h.state().message.is_none(), "{:?}", h.state().message);
    // Both decoders read the shipped sample (a clear line) nearly right.
    for text in [&with_lm.0, &with_lm.1, &without.0, &without.1] {
        let mut rates = engine::metrics::ErrorRates::default();
        rates.add(text, truth.trim());
        assert!(rates.cer() < 30.0, "{text:?} for {truth:?}");
    }
}

#[test]
fn a_real_pen_line_keeps_every_pointer_event_and_draws_like_the_training_lines() {
    use eframe::egui::{Event, Modifiers, PointerButton, pos2};
    use engine::data::ink::export::{LINE_HEIGHT, render_line};
    use engine::data::ink::inkml;
    // A real line of a UNIPEN test writer, at the size the evaluation images have.
    let path = engine::assets::assets_dir().join("samples/ink/unipen-cea-dt9764-0030.inkml");
    let mut ink = inkml::read(&path).unwrap().ink;
    ink.fit_height(LINE_HEIGHT);
    ink.map_xy(|x, y| (x + 30.0, y + 40.0));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = harness(view(&calls));
    h.run_ok();
    let origin = h.get_by_label("Writing canvas").rect().min;
    let at = |x: f32, y: f32| pos2(origin.x + x, origin.y + y);
    // Each stroke as the platform delivers a fast pen: a press, then many moves per frame.
    let mut expected = 0;
    for stroke in &ink.strokes {
        let p = &stroke.points;
        h.event(Event::PointerButton {
            pos: at(p[0].x, p[0].y),
            button: PointerButton::Primary,
            pressed: true,
            modifiers: Modifiers::NONE,
        });
        for chunk in p[1..].chunks(9) {
            for q in chunk {
                h.event(Event::PointerMoved(at(q.x, q.y)));
            }
            h.step();
        }
        let last = p[p.len() - 1];
        h.event(Event::PointerButton {
            pos: at(last.x, last.y),
            button: PointerButton::Primary,
            pressed: false,
            modifiers: Modifiers::NONE,
        });
        h.step();
        // Every reported position is kept; only exact repeats of the last point are dropped.
        expected += 1 + p
            .windows(2)
            .filter(|w| (w[0].x, w[0].y) != (w[1].x, w[1].y))
            .count();
    }
    run_until(&mut h, |v| v.result.is_some());
    let canvas = &h.state().canvas;
    assert_eq!(canvas.strokes.len(), ink.strokes.len());
    let kept: usize = canvas.strokes.iter().map(|s| s.points.len()).sum();
    assert_eq!(kept, expected, "points kept by the canvas");
    for (drawn, fed) in canvas.strokes.iter().zip(&ink.strokes) {
        let (a, b) = (drawn.points[0], fed.points[0]);
        assert!((a.x - b.x).abs() < 1e-3 && (a.y - b.y).abs() < 1e-3);
    }
    // The canvas's image is the evaluation image of the same line: one rasterizer, one pen.
    let mine = canvas.rasterize().unwrap();
    let theirs = render_line(&ink).unwrap();
    assert_eq!((mine.width, mine.height), (theirs.width, theirs.height));
    let worst = mine
        .pixels
        .iter()
        .zip(&theirs.pixels)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "largest pixel difference {worst}");
    // And it was recognized (the fake models answer for any line).
    assert!(calls.load(Ordering::SeqCst) >= 2);
}

#[test]
fn ink_files_open_on_the_canvas_and_bad_ones_say_why() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut v = view(&calls);
    let dir = std::env::temp_dir().join(format!("inkling-ink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.inkml");
    std::fs::write(&bad, "<ink>\n<trace>1 2, 3</trace>\n</ink>").unwrap();
    v.load_image(&bad);
    assert!(v.wait_for_loads(Duration::from_secs(10)));
    let message = v.message.clone().unwrap_or_default();
    assert!(message.contains("bad.inkml:2:"), "{message}");
    assert!(v.canvas.is_empty());
    let good = engine::assets::assets_dir().join("samples/ink/unipen-pri-159-0034.inkml");
    v.load_image(&good);
    assert!(v.wait_for_loads(Duration::from_secs(10)));
    assert!(v.message.is_none(), "{:?}", v.message);
    assert!(!v.canvas.is_empty());
    assert_eq!(v.ink_label, "three-point landing");
    // Saved back as InkML with its text.
    let saved = v.ink_document().unwrap();
    let doc = engine::data::ink::inkml::parse(&saved, std::path::Path::new("saved")).unwrap();
    assert_eq!(doc.text.as_deref(), Some("three-point landing"));
    assert_eq!(doc.ink.strokes.len(), v.canvas.strokes.len());
    std::fs::remove_dir_all(&dir).unwrap();
}
