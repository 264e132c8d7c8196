//! "Personalize": the student adapted to the user's kept lines ([`crate::personal`]) by the
//! engine's `adapt` job (`engine adapt` on the command line), in a background thread with
//! progress and cancel; at the end, the held-back lines' CER before and after, the guard (other
//! writing, flagged when the adapted student lost more than 2 points on it), and one click to
//! use the adapted student.

use crate::job::JobSlot;
use crate::personal::PersonalLines;
use eframe::egui;
use engine::jobs::AdaptReport;
use engine::train::adapt::{AdaptConfig, replay_of};
use engine::train::progress::{CancelToken, ProgressEvent};
use std::path::{Path, PathBuf};

/// Fewest kept lines to personalize with (a fifth of them is held back to measure).
pub const MIN_LINES: usize = 5;

/// The panel's state.
pub struct PersonalizePanel {
    /// Optimizer steps of a run.
    pub steps: usize,
    /// The run (its outcome: what `engine adapt` reports).
    pub run: JobSlot<AdaptReport>,
    /// An adapted student the user asked to use.
    pub load_request: Option<PathBuf>,
    wake: std::sync::Arc<dyn Fn() + Send + Sync>,
}

impl PersonalizePanel {
    /// A panel; `wake` repaints the UI when the job reports.
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            steps: 300,
            run: JobSlot::default(),
            load_request: None,
            wake: std::sync::Arc::new(wake),
        }
    }

    /// Whether a run is in progress.
    pub fn running(&self) -> bool {
        self.run.running()
    }

    /// Adapts `base` to the lines in `personal` in a new run folder under `runs_dir`, scoring
    /// with the app's decoder (with the shipped LM when `with_lm`).
    pub fn start(&mut self, base: &Path, personal: &Path, runs_dir: &Path, with_lm: bool) {
        if self.running() {
            return;
        }
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let run_dir = runs_dir.join(format!("personalize-{ms}"));
        let out = run_dir.join("personal-student.inkm");
        let (base, personal) = (base.to_path_buf(), personal.to_path_buf());
        let steps = self.steps.max(1);
        self.run.start(
            "inkling-personalize",
            self.wake.clone(),
            move |token, observer| {
                run(
                    &base, &personal, &out, &run_dir, steps, with_lm, token, observer,
                )
            },
        );
    }

    /// Asks the running job to stop at its next step.
    pub fn cancel(&self) {
        self.run.cancel();
    }

    /// Takes the job's reports into the progress state.
    pub fn poll(&mut self) {
        if self.run.poll() && std::env::var_os("INKLING_APP_LOG").is_some() {
            match &self.run.outcome {
                Some(Ok(r)) => eprintln!(
                    "personalized {}: {} lines, {} held back, CER {:.2}% -> {:.2}%, guard {:.2}% -> {:.2}%",
                    r.model.display(),
                    r.lines,
                    r.held,
                    r.before.cer,
                    r.after.cer,
                    r.guard_before.cer,
                    r.guard_after.cer
                ),
                Some(Err(e)) => eprintln!("personalize failed: {e}"),
                None => {}
            }
        }
    }

    /// Draws the panel: `base` is the student in use, `personal` the kept lines.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        base: Option<&Path>,
        personal: &PersonalLines,
        runs_dir: &Path,
        with_lm: bool,
    ) {
        self.poll();
        ui.strong("Personalize the student");
        let n = personal.lines.len();
        ui.label(format!(
            "Adapt the student to your handwriting with the {n} lines you kept (Recognize view, \
             \"Keep this line\"); a fifth of them is held back to measure it."
        ));
        let running = self.running();
        ui.horizontal(|ui| {
            ui.add_enabled(
                !running,
                egui::DragValue::new(&mut self.steps)
                    .range(10..=100_000)
                    .prefix("steps "),
            );
            let ready = base.is_some() && n >= MIN_LINES;
            if ui
                .add_enabled(!running && ready, egui::Button::new("Personalize"))
                .clicked()
                && let Some(base) = base
            {
                self.start(base, &personal.dir, runs_dir, with_lm);
            }
            if ui
                .add_enabled(running, egui::Button::new("Cancel"))
                .clicked()
            {
                self.cancel();
            }
            if base.is_none() {
                ui.weak("load a student model first");
            } else if n < MIN_LINES {
                ui.weak(format!("keep at least {MIN_LINES} lines first"));
            }
        });
        self.run.progress_bar(ui);
        if running && let Some(last) = self.run.progress.log.last() {
            ui.weak(last);
        }
        match &self.run.outcome {
            Some(Ok(r)) => {
                let on = if r.held > 0 {
                    format!(
                        "your {} held-back line{}",
                        r.held,
                        if r.held == 1 { "" } else { "s" }
                    )
                } else {
                    "your kept lines (none held back)".to_owned()
                };
                ui.label(format!(
                    "Personalized on {} lines in {:.0} s. CER on {on}: {:.1}% before, {:.1}% after.",
                    r.lines, r.train_seconds, r.before.cer, r.after.cer
                ));
                let guard = format!(
                    "Other writing ({} lines in unseen fonts): CER {:.1}% before, {:.1}% after.",
                    r.guard_before.lines, r.guard_before.cer, r.guard_after.cer
                );
                if r.guard_flag {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!(
                            "{guard} It lost more than {} points: it reads other writing worse.",
                            engine::jobs::GUARD_POINTS
                        ),
                    );
                } else {
                    ui.label(guard);
                }
                if ui.button("Use the personalized student").clicked() {
                    self.load_request = Some(r.model.clone());
                }
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
    }
}

/// The job: settings as `engine adapt` chooses them (replaying the base model's training mix
/// where its recipe is at hand, else the personal lines alone), then the adaptation.
#[allow(clippy::too_many_arguments)] // one job's inputs
fn run(
    base: &Path,
    personal: &Path,
    out: &Path,
    run_dir: &Path,
    steps: usize,
    with_lm: bool,
    cancel: &CancelToken,
    observer: engine::train::progress::Observer,
) -> Result<AdaptReport, String> {
    let header = engine::model_file::read_header(base).map_err(|e| e.to_string())?;
    let set = engine::data::personal::PersonalSet::read(personal).map_err(|e| e.to_string())?;
    let mut note = |m: String| observer(&ProgressEvent::Message(m));
    let replay = match replay_of(&header, 1, &mut note) {
        Ok(r) => Some(r),
        Err(e) => {
            note(format!("{e}; adapting on your lines alone"));
            None
        }
    };
    let mut cfg = AdaptConfig::new(personal, set.lines.len(), replay);
    cfg.steps = steps;
    let lm = if with_lm {
        crate::models::load_shipped_lm()?
    } else {
        None
    };
    let decoder = crate::models::app_decoder(&header, lm.as_ref());
    let run = engine::train::run::Run {
        dir: run_dir,
        recipe_name: "app: personalize",
        resume: false,
        scale: &engine::scale::ScaleConfig::default(),
        cancel,
    };
    engine::jobs::adapt(base, &cfg, out, run, decoder, observer).map_err(|e| match e {
        engine::Error::Cancelled(step) => format!("cancelled at step {step}"),
        other if other.is_out_of_space() => format!(
            "{other}: no room to write; the student in use and your kept lines are untouched"
        ),
        other => other.to_string(),
    })
}
