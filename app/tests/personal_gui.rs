//! Headless GUI tests of writer adaptation: a line written on the canvas is corrected, kept,
//! listed and deleted in the recognize view; a tiny "Personalize" run on kept lines finishes,
//! shows its before/after scores and its student can be used.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use app::models::LoadedModel;
use app::personal::PersonalLines;
use app::personalize::PersonalizePanel;
use app::recognize_view::{RecognizeView, Settings};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use engine::data::image::normalize::InkLine;
use engine::recognize::{LineRecognizer, Recognition};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Reads every line as `text`.
struct Fake(&'static str);

impl LineRecognizer for Fake {
    fn height(&self) -> usize {
        40
    }

    fn recognize_lines(&self, lines: &[InkLine]) -> Vec<Recognition> {
        lines
            .iter()
            .map(|_| Recognition {
                text: self.0.into(),
                confidence: 0.9,
                chars: Vec::new(),
                ms: 0.0,
                alternatives: Vec::new(),
            })
            .collect()
    }
}

fn fake(text: &'static str) -> LoadedModel {
    LoadedModel {
        path: format!("{text}.inkm").into(),
        recognizer: Arc::new(Fake(text)),
        summary: "fake".into(),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inkling-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_written_line_is_corrected_kept_listed_and_deleted() {
    let dir = scratch("keep-gui");
    let settings = Settings {
        debounce_ms: 0,
        personal_dir: Some(dir.join("personal")),
        ..Settings::default()
    };
    let view = RecognizeView::new(settings, Some(fake("he1lo")), Some(fake("hello")), || {});
    let mut h = Harness::builder()
        .with_size([900.0, 800.0])
        .build_ui_state(|ui, v: &mut RecognizeView| v.ui(ui), view);
    h.run_ok();
    // Nothing written yet: nothing to keep.
    h.get_by_label("Keep this line").click();
    h.run_ok();
    assert!(
        h.state()
            .message
            .as_deref()
            .unwrap_or("")
            .contains("Nothing to keep")
    );
    let canvas = h.get_by_label("Writing canvas").rect();
    let (a, b) = (
        canvas.left_center() + egui::vec2(40.0, 0.0),
        canvas.center(),
    );
    common::draw_stroke(&mut h, a, b, 10);
    common::run_until(&mut h, "the reading", Duration::from_secs(2), |v| {
        v.result.is_some()
    });
    h.run_ok();
    // The field holds the teacher's reading; the user corrects it.
    assert_eq!(h.state().ink_label, "hello");
    let field = h.get_by_label("Text:");
    field.focus();
    h.run_ok();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Text:").type_text("hullo there");
    h.run_ok();
    assert_eq!(h.state().ink_label, "hullo there");
    h.get_by_label("Keep this line").click();
    h.run_ok();
    assert_eq!(h.state().message, None);
    let kept = &h.state().personal.lines;
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].text.as_str(), kept[0].has_ink),
        ("hullo there", true)
    );
    assert!(
        h.state().canvas.is_empty(),
        "the canvas is cleared for the next line"
    );
    assert!(h.query_by_label("1 line kept").is_some());
    // Listed, then deleted from the list.
    h.get_by_label("Review kept lines").click();
    h.run_ok();
    assert!(h.query_by_label("hullo there").is_some());
    h.get_by_label("Delete").click();
    h.run_ok();
    assert!(h.state().personal.lines.is_empty());
    assert!(h.query_by_label("0 lines kept").is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What the personalize test's harness shows.
struct Personalizing {
    panel: PersonalizePanel,
    base: PathBuf,
    personal: PersonalLines,
    runs: PathBuf,
}

#[test]
fn a_tiny_personalization_finishes_with_its_scores_and_its_student_can_be_used() {
    let dir = scratch("personalize-gui");
    let base = common::tiny_ocr_model(&dir);
    // Six kept lines (images of printed words, as a loaded photo would be kept).
    let mut personal = PersonalLines::open(&dir.join("personal"));
    let mut cfg = engine::data::synth::SynthConfig::new(engine::task::Task::Ocr);
    cfg.max_chars = 8;
    let synth = engine::data::synth::Synth::new(&cfg).unwrap();
    for i in 0..6 {
        let s = synth.sample(i);
        personal
            .keep(&s.image.load().unwrap(), None, &s.text)
            .unwrap();
    }
    let mut panel = PersonalizePanel::new(|| {});
    panel.steps = 10;
    let state = Personalizing {
        panel,
        base,
        personal,
        runs: dir.join("runs"),
    };
    let mut h = Harness::builder().with_size([900.0, 600.0]).build_ui_state(
        |ui, s: &mut Personalizing| s.panel.ui(ui, Some(&s.base), &s.personal, &s.runs, false),
        state,
    );
    h.run_ok();
    h.get_by_label("Personalize").click();
    common::run_until(&mut h, "the run to finish", Duration::from_secs(120), |s| {
        s.panel.run.outcome.is_some()
    });
    let report = h
        .state()
        .panel
        .run
        .outcome
        .clone()
        .unwrap()
        .expect("the run succeeds");
    assert_eq!((report.lines, report.held), (5, 1));
    assert!(report.model.is_file());
    let header = engine::model_file::read_header(&report.model).unwrap();
    let adapted = header.provenance.adapted.unwrap();
    assert_eq!(adapted.base, h.state().base.display().to_string());
    h.run_ok();
    assert!(
        h.query_by_label_contains("CER on your 1 held-back line:")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("Other writing (100 lines")
            .is_some()
    );
    h.get_by_label("Use the personalized student").click();
    h.run_ok();
    assert_eq!(
        h.state().panel.load_request.as_deref(),
        Some(report.model.as_path())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
