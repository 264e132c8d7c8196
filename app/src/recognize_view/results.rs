//! The results part of the recognize view: the student's and the teacher's readings side by
//! side (confidence shading, disagreements, candidates, timings), or one row per line of a
//! split image.

use super::{RecognizeView, Source, UNSURE, repaint};
use crate::worker::Outcome;
use eframe::egui;
use engine::recognize::Recognition;

impl RecognizeView {
    pub(super) fn results_ui(&mut self, ui: &mut egui::Ui) {
        if self.busy() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("recognizing…");
            });
        }
        let Some(outcome) = self.result.clone() else {
            if self.canvas.is_empty() && matches!(self.source, Source::Canvas) {
                ui.weak("Write a line on the canvas, or load an image.");
            }
            return;
        };
        if !outcome.lines.is_empty() {
            self.lines_ui(ui, &outcome);
            return;
        }
        let ok = |r: &Option<Result<Recognition, String>>| {
            r.as_ref().and_then(|r| r.as_ref().ok()).cloned()
        };
        let (student, teacher) = (ok(&outcome.student), ok(&outcome.teacher));
        let marks = match (&student, &teacher) {
            (Some(s), Some(t)) => Some(disagreements(&s.text, &t.text)),
            _ => None,
        };
        ui.columns(2, |cols| {
            result_column(
                &mut cols[0],
                "Student",
                &outcome.student,
                marks.as_ref().map(|m| &m.0),
            );
            result_column(
                &mut cols[1],
                "Teacher",
                &outcome.teacher,
                marks.as_ref().map(|m| &m.1),
            );
        });
        if let (Some(s), Some(t)) = (&student, &teacher) {
            // The same measure as `engine bench-e2e` (less reading the file, which both share):
            // normalizing the line, the network and the decoder.
            ui.label(format!(
                "Line to text: student {:.1} ms, teacher {:.1} ms, {:.1}x faster; {}",
                s.ms,
                t.ms,
                t.ms / s.ms.max(1e-3),
                if s.text == t.text {
                    "same text".to_string()
                } else {
                    "the highlighted characters differ".to_string()
                }
            ));
        }
        ui.horizontal(|ui| {
            if let Some(s) = &student {
                if s.confidence < UNSURE {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!("The student is unsure ({:.0}%).", 100.0 * s.confidence),
                    );
                }
                if teacher.is_none()
                    && self.teacher.is_some()
                    && ui.button("Ask the teacher").clicked()
                {
                    self.submit(true);
                }
            }
            let best = teacher.as_ref().or(student.as_ref());
            if let Some(best) = best {
                if ui.button("Copy text").clicked() {
                    ui.ctx().copy_text(best.text.clone());
                }
                let json = || {
                    let json = serde_json::json!({"student": student, "teacher": teacher});
                    serde_json::to_string_pretty(&json).unwrap_or_default()
                };
                if ui.button("Copy JSON").clicked() {
                    ui.ctx().copy_text(json());
                }
                let idle = !self.dialogs.busy();
                if ui
                    .add_enabled(idle, egui::Button::new("Save text…"))
                    .clicked()
                {
                    self.dialogs
                        .save("line.txt", format!("{}\n", best.text), repaint(ui));
                }
                if ui
                    .add_enabled(idle, egui::Button::new("Save JSON…"))
                    .clicked()
                {
                    self.dialogs.save("line.json", json(), repaint(ui));
                }
            }
        });
    }

    /// The results of a split image: one row per line, student beside teacher.
    pub(super) fn lines_ui(&self, ui: &mut egui::Ui, outcome: &Outcome) {
        ui.label(format!("{} lines found", outcome.lines.len()));
        let text = |r: &Option<Result<Recognition, String>>| match r {
            Some(Ok(r)) => r.text.clone(),
            Some(Err(e)) => format!("({e})"),
            None => "-".into(),
        };
        egui::Grid::new("inkling-lines")
            .striped(true)
            .num_columns(3)
            .show(ui, |ui| {
                ui.strong("#");
                ui.strong("Student");
                ui.strong("Teacher");
                ui.end_row();
                for (i, l) in outcome.lines.iter().enumerate() {
                    ui.label(format!("{}", i + 1));
                    ui.label(text(&l.student));
                    ui.label(text(&l.teacher));
                    ui.end_row();
                }
            });
        let all =
            |pick: fn(&crate::worker::LineOutcome) -> &Option<Result<Recognition, String>>| {
                outcome
                    .lines
                    .iter()
                    .map(|l| text(pick(l)))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
        ui.horizontal(|ui| {
            if ui.button("Copy text").clicked() {
                let best = if self.teacher.is_some()
                    && outcome.lines.iter().any(|l| l.teacher.is_some())
                {
                    all(|l| &l.teacher)
                } else {
                    all(|l| &l.student)
                };
                ui.ctx().copy_text(best);
            }
        });
    }
}

/// Prints a result on stderr (with `INKLING_APP_LOG` set: scripted end-to-end checks read it).
pub(super) fn log_outcome(o: &Outcome) {
    let show = |r: &Option<Result<Recognition, String>>| match r {
        Some(Ok(r)) => format!(
            "{:?} ({:.1} ms, confidence {:.2})",
            r.text, r.ms, r.confidence
        ),
        Some(Err(e)) => format!("error: {e}"),
        None => "not run".into(),
    };
    eprintln!(
        "recognized #{}: student {}; teacher {}",
        o.id,
        show(&o.student),
        show(&o.teacher)
    );
}

/// One model's result: the text with per-character confidence shading (the less sure, the
/// redder the background) and disagreements with the other model underlined.
fn result_column(
    ui: &mut egui::Ui,
    title: &str,
    result: &Option<Result<Recognition, String>>,
    differs: Option<&Vec<bool>>,
) {
    ui.strong(title);
    match result {
        None => {
            ui.weak("not run");
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        Some(Ok(r)) => {
            let mut job = egui::text::LayoutJob::default();
            let font = egui::FontId::proportional(22.0);
            for (i, c) in r.chars.iter().enumerate() {
                let unsure = (1.0 - c.conf).clamp(0.0, 1.0);
                let mut format = egui::TextFormat {
                    font_id: font.clone(),
                    color: ui.visuals().text_color(),
                    background: egui::Color32::from_rgba_unmultiplied(
                        230,
                        60,
                        60,
                        (unsure * 160.0) as u8,
                    ),
                    ..Default::default()
                };
                if differs.is_some_and(|d| d.get(i).copied().unwrap_or(false)) {
                    format.underline = egui::Stroke::new(2.0, egui::Color32::from_rgb(240, 150, 0));
                }
                job.append(&c.ch.to_string(), 0.0, format);
            }
            if r.chars.is_empty() {
                ui.weak("(no text)");
            } else {
                ui.label(job);
            }
            ui.label(format!(
                "confidence {:.0}%, {:.1} ms",
                100.0 * r.confidence,
                r.ms
            ));
            candidates_ui(ui, title, r);
        }
    }
}

/// The beam search's other hypotheses, best first, with their log scores relative to the
/// best one (click one to copy it).
fn candidates_ui(ui: &mut egui::Ui, title: &str, r: &Recognition) {
    let Some(best) = r.alternatives.first() else {
        return;
    };
    let others = &r.alternatives[1..];
    if others.is_empty() {
        return;
    }
    egui::CollapsingHeader::new("Candidates")
        .id_salt(("candidates", title))
        .default_open(false)
        .show(ui, |ui| {
            for a in others {
                let label = format!("{}   ({:+.2})", a.text, a.score - best.score);
                if ui
                    .selectable_label(false, label)
                    .on_hover_text("Copy this reading")
                    .clicked()
                {
                    ui.ctx().copy_text(a.text.clone());
                }
            }
        });
}

/// Marks the characters of `a` and `b` that are not part of a longest common subsequence of
/// the two (where the student and the teacher disagree).
pub fn disagreements(a: &str, b: &str) -> (Vec<bool>, Vec<bool>) {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut da, mut db) = (vec![true; n], vec![true; m]);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            da[i] = false;
            db[j] = false;
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    (da, db)
}

#[cfg(test)]
mod tests {
    #[test]
    pub(super) fn disagreements_mark_what_is_not_shared() {
        let (a, b) = super::disagreements("hel1o", "hello");
        assert_eq!(a, vec![false, false, false, true, false]);
        assert_eq!(b.iter().filter(|&&d| d).count(), 1);
        let (a, b) = super::disagreements("", "ab");
        assert!(a.is_empty() && b == vec![true, true]);
    }
}
