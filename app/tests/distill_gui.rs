//! Headless GUI tests of the distill view: a tiny run started from the form finishes and its
//! student can be loaded; a long run is cancelled from the UI and can then be resumed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use app::distill_view::{DistillForm, DistillView};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;

fn form(teacher: &Path, runs: &Path, distill_steps: usize) -> DistillForm {
    DistillForm {
        teacher: teacher.display().to_string(),
        criterion: engine::losses::distill::CriterionKind::CnnMah,
        task: engine::task::Task::Ocr,
        student_preset: engine::models::config::Preset::StudentTiny,
        distill_steps,
        finetune_steps: 2,
        batch_size: 2,
        runs_dir: runs.display().to_string(),
        run_name: "gui-run".into(),
        ..DistillForm::default()
    }
}

/// Steps the UI until `done` holds (runs take a while on a shared machine).
fn run_until(h: &mut Harness<'_, DistillView>, what: &str, done: impl Fn(&DistillView) -> bool) {
    common::run_until(h, what, std::time::Duration::from_secs(60), done);
}

fn harness(view: DistillView) -> Harness<'static, DistillView> {
    Harness::builder()
        .with_size([900.0, 900.0])
        .build_ui_state(|ui, v: &mut DistillView| v.ui(ui), view)
}

#[test]
fn a_tiny_run_finishes_and_its_student_can_be_loaded_and_a_long_one_cancelled() {
    let dir = std::env::temp_dir().join(format!("inkling-distill-gui-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let teacher = common::tiny_ocr_model(&dir);
    let runs = dir.join("runs");

    let mut h = harness(DistillView::new(form(&teacher, &runs, 3), || {}));
    h.run_ok();
    h.get_by_label("Start").click();
    run_until(&mut h, "the run to finish", |v| v.run.outcome.is_some());
    let student = h
        .state()
        .run
        .outcome
        .clone()
        .unwrap()
        .expect("the run succeeds");
    assert!(student.is_file(), "{}", student.display());
    assert!(!h.state().run.progress.losses.is_empty());
    h.run_ok();
    h.get_by_label("Load the student into the recognize view")
        .click();
    h.run_ok();
    assert_eq!(h.state().load_request.as_deref(), Some(student.as_path()));
    // The runs folder is read again off the UI thread when the run finishes.
    run_until(&mut h, "the runs folder scan", |v| !v.scanning());
    assert_eq!(h.state().past.len(), 1);
    // Another runs folder typed in: its runs are listed once the field is left (here none).
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let folder = &h.get_all_by_label("Run folder").next().unwrap();
    folder.focus();
    h.run_ok();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_all_by_label("Run folder")
        .next()
        .unwrap()
        .type_text(elsewhere.to_str().unwrap());
    h.run_ok();
    h.key_press(egui::Key::Enter);
    h.run_ok();
    run_until(&mut h, "the new folder's scan", |v| {
        !v.scanning() && v.past.is_empty()
    });
    assert_eq!(h.state().form.runs_dir, elsewhere.display().to_string());

    // A long run, cancelled from the UI once it has started stepping: it stops with its
    // checkpoint, and the same folder can then be resumed.
    let mut h = harness(DistillView::new(
        DistillForm {
            run_name: "long".into(),
            ..form(&teacher, &runs, 100_000)
        },
        || {},
    ));
    h.run_ok();
    h.get_by_label("Start").click();
    run_until(&mut h, "the first steps", |v| v.run.progress.step >= 1);
    h.get_by_label("Cancel").click();
    run_until(&mut h, "the cancellation", |v| !v.running());
    let err = h.state().run.outcome.clone().unwrap().unwrap_err();
    assert!(err.contains("cancelled"), "{err}");
    // The program's own words, not the command line's.
    assert!(err.contains("press Resume") && !err.contains("--"), "{err}");
    h.run_ok();
    assert!(h.query_by_label("Resume").is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_teacher_is_a_message() {
    let dir = std::env::temp_dir().join(format!("inkling-distill-bad-{}", std::process::id()));
    let mut h = harness(DistillView::new(
        form(&dir.join("no-such-teacher.inkm"), &dir.join("runs"), 3),
        || {},
    ));
    h.run_ok();
    h.get_by_label("Start").click();
    run_until(&mut h, "the error", |v| v.run.outcome.is_some());
    let err = h.state().run.outcome.clone().unwrap().unwrap_err();
    assert!(err.contains("no-such-teacher"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
