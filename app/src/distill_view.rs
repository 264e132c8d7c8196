//! The distill view: choose a teacher, a criterion, data and lengths; run distillation and
//! fine-tuning in a background thread through the engine's own pipeline; watch its progress
//! (phase, step, rate, ETA, loss and validation CER curves); cancel (the run keeps its last
//! checkpoint) and resume; list past runs and load a finished student into the recognize view.

use crate::job::JobSlot;
use eframe::egui;
use egui_plot::{Line, Plot};
use engine::data::readers::DataFormat;
use engine::data::synth::SynthConfig;
use engine::data::synth::fonts::{FontSplit, shipped_holdout};
use engine::losses::distill::{Criterion, CriterionKind};
use engine::models::config::Preset;
use engine::task::Task;
use engine::train::config::{DataConfig, DataSource, ModelSpec, OptimizerConfig, ScheduleConfig};
use engine::train::distill::FinetuneConfig;
use engine::train::distill::{DistillConfig, distill};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The form (persisted between runs of the program).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DistillForm {
    /// Teacher model file.
    pub teacher: String,
    /// The criterion.
    pub criterion: CriterionKind,
    /// Temperature of softmax-ce.
    pub temperature: f64,
    /// Synthetic data task, used when `folder` is empty.
    pub task: Task,
    /// A folder or TSV of labeled lines instead of synthetic data.
    pub folder: String,
    /// The student's size.
    pub student_preset: Preset,
    /// Distillation steps.
    pub distill_steps: usize,
    /// Fine-tuning steps (0: none).
    pub finetune_steps: usize,
    /// Lines per batch.
    pub batch_size: usize,
    /// Folder holding the runs.
    pub runs_dir: String,
    /// Name of the next run.
    pub run_name: String,
}

impl Default for DistillForm {
    fn default() -> Self {
        Self {
            teacher: crate::models::models_dir()
                .join("hwr-teacher-cpu.inkm")
                .display()
                .to_string(),
            criterion: CriterionKind::CnnMah,
            temperature: 2.0,
            task: Task::Hwr,
            folder: String::new(),
            student_preset: Preset::StudentCpu,
            distill_steps: 1500,
            finetune_steps: 750,
            batch_size: 16,
            runs_dir: "runs".into(),
            run_name: "gui-distill".into(),
        }
    }
}

impl DistillForm {
    /// The criterion chosen.
    pub fn criterion(&self) -> Criterion {
        self.criterion.with_temperature(self.temperature)
    }

    /// The recipe of the run, the same config as `training/*.json` distillation recipes
    /// (errors are messages).
    pub fn recipe(&self) -> Result<DistillConfig, String> {
        // The shipped recipes' held-out fonts: the shipped teachers never saw them, so the
        // validation CER is on unseen styles for the teacher and the student alike.
        let folder = self.folder.trim();
        let source = |split: FontSplit, seed: u64| -> Result<DataSource, String> {
            if folder.is_empty() {
                let mut synth = SynthConfig::new(self.task);
                synth.split = split;
                synth.seed = seed;
                synth.holdout = shipped_holdout(self.task);
                Ok(DataSource::Synth(Box::new(synth)))
            } else {
                DataFormat::detect(Path::new(folder))
                    .map(DataSource::Files)
                    .map_err(|e| e.to_string())
            }
        };
        let schedule = |steps: usize| ScheduleConfig {
            steps,
            batch_size: self.batch_size,
            eval_every: (steps / 5).max(1),
            checkpoint_every: (steps / 10).clamp(1, 100),
            patience: 0,
            target_cer: None,
        };
        let steps = self.distill_steps.max(1);
        Ok(DistillConfig {
            teacher: PathBuf::from(self.teacher.trim()),
            student: ModelSpec::Preset(self.student_preset),
            criterion: self.criterion(),
            data: DataConfig {
                train: source(FontSplit::Train, 1)?,
                valid: source(FontSplit::Valid, 1_000_001)?,
                valid_lines: 100,
            },
            optimizer: OptimizerConfig::new(0.002, (steps / 15).min(100)),
            schedule: schedule(steps),
            finetune: (self.finetune_steps > 0).then(|| FinetuneConfig {
                optimizer: OptimizerConfig::new(0.0005, (self.finetune_steps / 15).min(100)),
                schedule: schedule(self.finetune_steps),
            }),
            seed: 11,
            half_precision: true,
        })
    }

    /// The run folder.
    pub fn run_dir(&self) -> PathBuf {
        Path::new(self.runs_dir.trim()).join(self.run_name.trim())
    }
}

/// A past run found on disk.
#[derive(Debug, Clone)]
pub struct PastRun {
    /// Its folder.
    pub dir: PathBuf,
    /// The best student model file in it, if any.
    pub student: Option<PathBuf>,
    /// The last validation CER in its metrics, if any.
    pub cer: Option<f64>,
}

/// The view's state.
pub struct DistillView {
    /// The form.
    pub form: DistillForm,
    /// The run (its outcome: the student model file).
    pub run: JobSlot<PathBuf>,
    /// Past runs in the runs folder.
    pub past: Vec<PastRun>,
    /// A student the user asked to load into the recognize view.
    pub load_request: Option<PathBuf>,
    wake: std::sync::Arc<dyn Fn() + Send + Sync>,
    /// The runs folder being read (off the UI thread), if a scan is under way.
    scanning: Option<std::sync::mpsc::Receiver<Vec<PastRun>>>,
}

impl DistillView {
    /// A view with `form`; `wake` repaints the UI when the job reports.
    pub fn new(form: DistillForm, wake: impl Fn() + Send + Sync + 'static) -> Self {
        let mut v = Self {
            form,
            run: JobSlot::default(),
            past: Vec::new(),
            load_request: None,
            wake: std::sync::Arc::new(wake),
            scanning: None,
        };
        v.refresh_past();
        v
    }

    /// Whether a run is in progress.
    pub fn running(&self) -> bool {
        self.run.running()
    }

    /// Starts (or, with `resume`, continues) the run described by the form.
    pub fn start(&mut self, resume: bool) {
        if self.running() {
            return;
        }
        let cfg = match self.form.recipe() {
            Ok(c) => c,
            Err(e) => {
                self.run.outcome = Some(Err(e));
                return;
            }
        };
        let run_dir = self.form.run_dir();
        let name = format!("app: {}", run_dir.display());
        self.run.start(
            "inkling-distill",
            self.wake.clone(),
            move |token, observer| {
                let run = engine::train::run::Run {
                    dir: &run_dir,
                    recipe_name: &name,
                    resume,
                    scale: &engine::scale::ScaleConfig::default(),
                    cancel: token,
                };
                distill(&cfg, run, observer)
                    .map(|r| r.student().to_path_buf())
                    .map_err(|e| match e {
                        engine::Error::Cancelled(step) => format!(
                            "cancelled at step {step}; its checkpoint is kept: press Resume to \
                         continue"
                        ),
                        other if other.is_out_of_space() => format!(
                            "{other}: no room to write. Files are written whole or not at all, \
                             so the last checkpoint is intact: make room, then press Resume"
                        ),
                        other => other.to_string(),
                    })
            },
        );
    }

    /// Asks the running job to stop at its next step (it writes a checkpoint first).
    pub fn cancel(&self) {
        self.run.cancel();
    }

    /// Takes the job's reports into the progress state.
    pub fn poll(&mut self) {
        if self.run.poll() {
            self.refresh_past();
        }
    }

    /// Re-reads the runs folder, on a thread of its own (each run's metrics are read); the
    /// list is replaced when the scan is done (see [`DistillView::scanning`]).
    pub fn refresh_past(&mut self) {
        let dir = PathBuf::from(self.form.runs_dir.trim());
        let (tx, rx) = std::sync::mpsc::channel();
        let wake = self.wake.clone();
        let started = std::thread::Builder::new()
            .name("inkling-runs-scan".into())
            .spawn(move || {
                let _ = tx.send(scan_runs(&dir));
                wake();
            });
        match started {
            Ok(_) => self.scanning = Some(rx),
            // Without a thread, read it here: a slow frame beats an empty list.
            Err(_) => self.past = scan_runs(&PathBuf::from(self.form.runs_dir.trim())),
        }
    }

    /// Whether the runs folder is being read.
    pub fn scanning(&self) -> bool {
        self.scanning.is_some()
    }

    /// Takes in a finished scan of the runs folder.
    fn take_scan(&mut self) {
        if let Some(rx) = &self.scanning {
            match rx.try_recv() {
                Ok(past) => {
                    self.past = past;
                    self.scanning = None;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
                Err(std::sync::mpsc::TryRecvError::Disconnected) => self.scanning = None,
            }
        }
    }

    /// Draws the view.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.take_scan();
        self.poll();
        self.form_ui(ui);
        ui.separator();
        self.progress_ui(ui);
        ui.separator();
        self.past_ui(ui);
    }

    fn form_ui(&mut self, ui: &mut egui::Ui) {
        let running = self.running();
        let mut rescan = false;
        let f = &mut self.form;
        ui.add_enabled_ui(!running, |ui| {
            egui::Grid::new("distill-form")
                .num_columns(2)
                .show(ui, |ui| {
                    let l = ui.label("Teacher model");
                    ui.text_edit_singleline(&mut f.teacher).labelled_by(l.id);
                    ui.end_row();
                    ui.label("Criterion");
                    ui.horizontal(|ui| {
                        egui::ComboBox::from_label("criterion")
                            .selected_text(f.criterion.name())
                            .show_ui(ui, |ui| {
                                for c in CriterionKind::ALL {
                                    ui.selectable_value(&mut f.criterion, c, c.name());
                                }
                            });
                        if f.criterion == CriterionKind::SoftmaxCe {
                            ui.add(
                                egui::DragValue::new(&mut f.temperature)
                                    .range(0.1..=20.0)
                                    .prefix("T = "),
                            );
                        }
                    });
                    ui.end_row();
                    ui.label("Data");
                    ui.horizontal(|ui| {
                        ui.selectable_value(&mut f.task, Task::Hwr, "synthetic handwriting");
                        ui.selectable_value(&mut f.task, Task::Ocr, "synthetic print");
                    });
                    ui.end_row();
                    let l = ui.label("or labeled lines (folder/TSV)");
                    ui.text_edit_singleline(&mut f.folder).labelled_by(l.id);
                    ui.end_row();
                    ui.label("Steps");
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::DragValue::new(&mut f.distill_steps)
                                .range(1..=1_000_000)
                                .prefix("distill "),
                        );
                        ui.add(
                            egui::DragValue::new(&mut f.finetune_steps)
                                .range(0..=1_000_000)
                                .prefix("fine-tune "),
                        );
                        ui.add(
                            egui::DragValue::new(&mut f.batch_size)
                                .range(1..=256)
                                .prefix("batch "),
                        );
                    });
                    ui.end_row();
                    let l = ui.label("Run folder");
                    ui.horizontal(|ui| {
                        let folder = ui.text_edit_singleline(&mut f.runs_dir).labelled_by(l.id);
                        // A folder typed in: list its runs once the field is left.
                        rescan |= folder.lost_focus();
                        ui.label("/");
                        ui.text_edit_singleline(&mut f.run_name).labelled_by(l.id);
                    });
                    ui.end_row();
                });
        });
        if rescan {
            self.refresh_past();
        }
        ui.horizontal(|ui| {
            let exists = self.form.run_dir().join("config.json").is_file();
            if ui
                .add_enabled(!running && !exists, egui::Button::new("Start"))
                .clicked()
            {
                self.start(false);
            }
            if ui
                .add_enabled(!running && exists, egui::Button::new("Resume"))
                .clicked()
            {
                self.start(true);
            }
            if ui
                .add_enabled(running, egui::Button::new("Cancel"))
                .clicked()
            {
                self.cancel();
            }
            if exists && !running {
                ui.weak("this run folder exists: resume it, or choose another name");
            }
        });
    }

    fn progress_ui(&mut self, ui: &mut egui::Ui) {
        self.run.progress_bar(ui);
        let p = &self.run.progress;
        match &self.run.outcome {
            Some(Ok(student)) => {
                ui.label(format!("Finished: student {}", student.display()));
                if ui
                    .button("Load the student into the recognize view")
                    .clicked()
                {
                    self.load_request = Some(student.clone());
                }
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
        if !p.losses.is_empty() || !p.cer.is_empty() {
            ui.columns(2, |cols| {
                Plot::new("distill-loss")
                    .height(160.0)
                    .x_axis_label("step")
                    .y_axis_label("loss")
                    .show(&mut cols[0], |plot| {
                        plot.line(Line::new("loss", p.losses.clone()));
                    });
                Plot::new("distill-cer")
                    .height(160.0)
                    .x_axis_label("step")
                    .y_axis_label("validation CER %")
                    .show(&mut cols[1], |plot| {
                        plot.line(Line::new("validation CER %", p.cer.clone()));
                    });
            });
        }
        if let Some(last) = p.log.last() {
            ui.weak(last);
        }
    }

    fn past_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.strong("Past runs");
            if ui.button("Refresh").clicked() {
                self.refresh_past();
            }
        });
        let mut load = None;
        for r in &self.past {
            ui.horizontal(|ui| {
                ui.label(r.dir.display().to_string());
                if let Some(c) = r.cer {
                    ui.weak(format!("last validation CER {c:.2}%"));
                }
                if let Some(s) = &r.student
                    && ui.small_button("Load student").clicked()
                {
                    load = Some(s.clone());
                }
            });
        }
        if load.is_some() {
            self.load_request = load;
        }
    }
}

/// The runs in `dir` (folders with a `metrics.csv`), sorted by name.
fn scan_runs(dir: &Path) -> Vec<PastRun> {
    let mut past: Vec<PastRun> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.join("metrics.csv").is_file())
                .map(|d| past_run(&d))
                .collect()
        })
        .unwrap_or_default();
    past.sort_by(|a, b| a.dir.cmp(&b.dir));
    past
}

fn past_run(dir: &Path) -> PastRun {
    // Only distillation runs hold students (a teacher's training run is listed without one).
    let student = ["finetune-best.inkm", "distill-best.inkm"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let cer = std::fs::read_to_string(dir.join("metrics.csv"))
        .ok()
        .and_then(|text| {
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next()?.split(',').collect();
            let col = header.iter().position(|h| h.contains("cer"))?;
            lines
                .rev()
                .find_map(|l| l.split(',').nth(col)?.parse::<f64>().ok())
        });
    PastRun {
        dir: dir.to_path_buf(),
        student,
        cer,
    }
}
