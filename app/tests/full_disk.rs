//! A full disk loses nothing the program wrote before. The test runs its second half in a
//! child process whose file-size limit stands in for a full disk (mounting a small tmpfs
//! needs privileges a test does not have): there, saving the settings fails with a message in
//! the window and leaves the settings file as it was, and a distillation run resumed from the
//! distill view fails at its checkpoint with a message saying so, leaving the last checkpoint
//! as it was. Back with room, the same run resumes from that checkpoint.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use app::app::{InklingApp, Persisted};
use app::distill_view::{DistillForm, DistillView};
use app::settings_file::SettingsFile;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Set in the child: the folder the parent prepared.
const CHILD: &str = "INKLING_FULL_DISK_CHILD";
/// Set in the child: the file-size limit in bytes.
const LIMIT: &str = "INKLING_FULL_DISK_LIMIT";

fn form(teacher: &Path, runs: &Path) -> DistillForm {
    DistillForm {
        teacher: teacher.display().to_string(),
        criterion: engine::losses::distill::CriterionKind::CnnL2,
        task: engine::task::Task::Ocr,
        student_preset: engine::models::config::Preset::StudentTiny,
        distill_steps: 100_000,
        finetune_steps: 0,
        batch_size: 2,
        runs_dir: runs.display().to_string(),
        run_name: "full-disk".into(),
        ..DistillForm::default()
    }
}

/// Resumes (or starts) the run of `form`, cancels it after its first step, and returns how it
/// ended.
fn one_step_then_cancel(form: DistillForm, resume: bool) -> Result<PathBuf, String> {
    let mut view = DistillView::new(form, || {});
    view.start(resume);
    let wait = |view: &mut DistillView, what: &str, done: &dyn Fn(&DistillView) -> bool| {
        let start = std::time::Instant::now();
        while !done(view) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "timed out: {what}"
            );
            view.poll();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let first = view.run.progress.step;
    wait(&mut view, "a step", &|v| {
        v.run.progress.step > first || v.run.outcome.is_some()
    });
    view.cancel();
    wait(&mut view, "the end of the run", &|v| {
        v.run.outcome.is_some()
    });
    view.run.outcome.clone().unwrap()
}

fn harness(app: InklingApp) -> Harness<'static, InklingApp> {
    Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(|ui, app: &mut InklingApp| app.show(ui), app)
}

#[test]
fn a_full_disk_keeps_the_settings_and_the_last_checkpoint() {
    if let Some(dir) = std::env::var_os(CHILD) {
        let limit: usize = std::env::var(LIMIT).unwrap().parse().unwrap();
        return on_a_full_disk(Path::new(&dir), limit);
    }
    let dir = std::env::temp_dir().join(format!("inkling-full-disk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let teacher = common::tiny_ocr_model(&dir);
    let runs = dir.join("runs");

    // Settings saved while there is room.
    let settings = dir.join("settings.json");
    let mut file = SettingsFile::new(&settings);
    let saved = Persisted {
        form: form(&teacher, &runs),
        ..Persisted::default()
    };
    file.save(&saved).unwrap();
    // A run cancelled after its first step, which writes its checkpoint.
    let err = one_step_then_cancel(form(&teacher, &runs), false).unwrap_err();
    assert!(err.contains("cancelled at step"), "{err}");
    let ckpt = runs.join("full-disk/distill.ckpt");
    let before = std::fs::read(&ckpt).unwrap();

    // The child: no file may grow past half the checkpoint.
    let limit = before.len() / 2;
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "a_full_disk_keeps_the_settings_and_the_last_checkpoint",
            "--nocapture",
        ])
        .env(CHILD, &dir)
        .env(LIMIT, limit.to_string());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        child.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Over the limit a write fails (EFBIG) instead of the process being killed.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = child.output().unwrap();
    assert!(
        out.status.success(),
        "the child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&ckpt).unwrap(),
        before,
        "the checkpoint changed"
    );

    // With room again, the same run resumes from that checkpoint.
    let err = one_step_then_cancel(form(&teacher, &runs), true).unwrap_err();
    let step = |e: &str| -> usize {
        let rest = e.split("cancelled at step ").nth(1).unwrap_or_default();
        rest.split(';')
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or(0)
    };
    assert!(step(&err) > 1, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The child's half: every write past `limit` bytes fails.
fn on_a_full_disk(dir: &Path, limit: usize) {
    let teacher = dir.join("tiny-model/train-best.inkm");
    let runs = dir.join("runs");
    let settings = dir.join("settings.json");
    let before = std::fs::read(&settings).unwrap();

    // The window says the settings could not be saved; the file is as it was.
    let mut file = SettingsFile::new(&settings);
    let saved: Persisted = file.load().unwrap().unwrap();
    let mut app = InklingApp::with_state(saved, file, &eframe::egui::Context::default());
    // A change too big for the room left.
    app.distill.form.run_name = "x".repeat(limit + 1);
    app.save_settings();
    let err = app.settings_error.clone().expect("saving fails");
    assert!(err.contains("intact"), "{err}");
    let mut h = harness(app);
    h.run_ok();
    assert!(
        h.query_by_label_contains("Settings: could not save")
            .is_some()
    );
    drop(h);
    assert_eq!(std::fs::read(&settings).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The resumed run cannot write its checkpoint: a message that says the last one is intact.
    let err = one_step_then_cancel(form(&teacher, &runs), true).unwrap_err();
    assert!(
        err.contains("distill.ckpt") && err.contains("intact") && err.contains("press Resume"),
        "{err}"
    );
}
