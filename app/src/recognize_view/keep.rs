//! The line's text (the reading, until the user corrects it), "Keep this line", and the list of
//! kept lines (review, delete, export).

use super::{RecognizeView, Source};
use crate::worker::Outcome;
use eframe::egui;
use engine::recognize::Recognition;
use std::path::PathBuf;

impl RecognizeView {
    /// Fills the text field with a new single-line reading (the teacher's where there is one),
    /// unless the user has typed their own text.
    pub(super) fn prefill(&mut self, outcome: &Outcome) {
        let reading = |r: &Option<Result<Recognition, String>>| {
            r.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|r| r.text.clone())
        };
        let Some(text) = reading(&outcome.teacher).or_else(|| reading(&outcome.student)) else {
            return;
        };
        if outcome.lines.is_empty()
            && (self.ink_label.is_empty() || self.ink_label == self.prefilled)
        {
            self.ink_label = text.clone();
            self.prefilled = text;
        }
    }

    /// Keeps the current line with the text in the field (see [`crate::personal::PersonalLines::keep`]); a
    /// canvas line keeps its ink and the canvas is cleared for the next line.
    pub fn keep_line(&mut self) {
        let single = !matches!(self.source, Source::Image { region: None, .. })
            || self.result.as_ref().is_some_and(|r| r.lines.is_empty());
        let Some(image) = self.image().filter(|_| single) else {
            self.message = Some(
                "Nothing to keep: write a line, or load an image of one line (or drag a \
                 region around one line)."
                    .into(),
            );
            return;
        };
        let ink = matches!(self.source, Source::Canvas).then(|| self.canvas.ink());
        match self.personal.keep(&image, ink.as_ref(), &self.ink_label) {
            Ok(name) => {
                if std::env::var_os("INKLING_APP_LOG").is_some() {
                    eprintln!(
                        "kept {name}: {:?} ({} lines kept)",
                        self.ink_label.trim(),
                        self.personal.lines.len()
                    );
                }
                self.message = None;
                if matches!(self.source, Source::Canvas) {
                    self.canvas.clear();
                }
                self.ink_label.clear();
                self.prefilled.clear();
            }
            Err(e) => self.message = Some(e),
        }
    }

    /// The text field, "Keep this line", and the kept lines (review, delete, export).
    pub(super) fn keep_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Text:");
            ui.add(
                egui::TextEdit::singleline(&mut self.ink_label)
                    .hint_text("the line's text: correct the reading here")
                    .desired_width(360.0),
            )
            .labelled_by(label.id);
            if ui
                .button("Keep this line")
                .on_hover_text("Save the line and this text, to personalize the student")
                .clicked()
            {
                self.keep_line();
            }
            let n = self.personal.lines.len();
            ui.label(format!("{n} line{} kept", if n == 1 { "" } else { "s" }));
            ui.toggle_value(&mut self.review_open, "Review kept lines");
        });
        if !self.review_open {
            return;
        }
        ui.weak(format!("in {}", self.personal.dir.display()));
        let mut delete = None;
        egui::ScrollArea::vertical()
            .id_salt("inkling-kept-lines")
            .max_height(180.0)
            .show(ui, |ui| {
                for line in &self.personal.lines {
                    ui.horizontal(|ui| {
                        if ui.small_button("Delete").clicked() {
                            delete = Some(line.name.clone());
                        }
                        ui.label(&line.text);
                        ui.weak(if line.has_ink { "ink" } else { "image" });
                    });
                }
            });
        if let Some(name) = delete
            && let Err(e) = self.personal.delete(&name)
        {
            self.message = Some(e);
        }
        ui.horizontal(|ui| {
            let label = ui.label("Export to folder:");
            ui.text_edit_singleline(&mut self.export_input)
                .labelled_by(label.id);
            if ui.button("Export").clicked() {
                let to = PathBuf::from(self.export_input.trim());
                self.message = Some(match self.personal.export(&to) {
                    Ok(n) => format!("Exported {n} lines to {}.", to.display()),
                    Err(e) => e,
                });
            }
        });
    }
}
