//! The input part of the recognize view: the canvas with its tools, or the loaded image with
//! its region, and the debounce that sends a quiet canvas to be recognized.

use super::{RecognizeView, Source, repaint};
use crate::models;
use eframe::egui;
use engine::data::image::segment::LineBox;
use std::path::PathBuf;
use std::time::{Duration, Instant};

impl RecognizeView {
    pub(super) fn input_ui(&mut self, ui: &mut egui::Ui) {
        let mut resubmit = false;
        ui.horizontal(|ui| {
            if ui
                .selectable_label(matches!(self.source, Source::Canvas), "Write")
                .clicked()
            {
                self.source = Source::Canvas;
                self.submit_now();
            }
            ui.separator();
            let label = ui.label("Image file:");
            ui.text_edit_singleline(&mut self.path_input)
                .labelled_by(label.id);
            if ui.button("Load image").clicked() {
                let path = PathBuf::from(self.path_input.trim());
                self.load_image(&path);
            }
            if ui
                .add_enabled(!self.dialogs.busy(), egui::Button::new("Browse…"))
                .clicked()
            {
                self.dialogs.open_image(repaint(ui));
            }
            if ui.button("Paste image").clicked() {
                self.paste_image();
            }
            let mut sample = None;
            egui::ComboBox::from_label("Samples")
                .selected_text("open…")
                .show_ui(ui, |ui| {
                    for path in &self.samples {
                        let name = path.file_name().unwrap_or_default().to_string_lossy();
                        if ui.selectable_label(false, name).clicked() {
                            sample = Some(path.clone());
                        }
                    }
                    if self.samples.is_empty() {
                        ui.weak(format!("none in {}", models::samples_dir().display()));
                    }
                });
            if let Some(path) = sample {
                self.path_input = path.display().to_string();
                self.load_image(&path);
            }
        });
        ui.weak("Or drop an image on the window. Drag on an image to recognize one region.");
        match &mut self.source {
            Source::Canvas => {
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(self.canvas.can_undo(), egui::Button::new("Undo"))
                        .clicked()
                    {
                        self.canvas.undo();
                    }
                    if ui
                        .add_enabled(self.canvas.can_redo(), egui::Button::new("Redo"))
                        .clicked()
                    {
                        self.canvas.redo();
                    }
                    if ui.button("Clear").clicked() {
                        self.canvas.clear();
                    }
                    if ui
                        .add(
                            egui::Slider::new(&mut self.settings.stroke_width, 1.0..=16.0)
                                .text("Stroke width"),
                        )
                        .changed()
                    {
                        self.canvas.stroke_width = self.settings.stroke_width;
                    }
                    ui.checkbox(&mut self.settings.teacher_live, "Teacher live");
                });
                self.canvas.ui(ui);
                ui.horizontal(|ui| {
                    let idle = !self.dialogs.busy();
                    if ui
                        .add_enabled(idle, egui::Button::new("Open ink…"))
                        .clicked()
                    {
                        self.dialogs.open_ink(repaint(ui));
                    }
                    let document = self.ink_document();
                    if ui
                        .add_enabled(idle && document.is_some(), egui::Button::new("Save ink…"))
                        .on_hover_text("InkML: the strokes with their text")
                        .clicked()
                        && let Some(doc) = document
                    {
                        self.dialogs.save("line.inkml", doc, repaint(ui));
                    }
                });
            }
            Source::Image {
                path,
                gray,
                texture,
                region,
                drag_from,
            } => {
                ui.horizontal(|ui| {
                    ui.label(path.display().to_string());
                    if region.is_some() && ui.button("Whole image").clicked() {
                        *region = None;
                        resubmit = true;
                    }
                });
                let tex = texture.get_or_insert_with(|| {
                    let rgba: Vec<u8> = gray
                        .pixels
                        .iter()
                        .flat_map(|&v| {
                            let g = (v.clamp(0.0, 1.0) * 255.0) as u8;
                            [g, g, g, 255]
                        })
                        .collect();
                    let img =
                        egui::ColorImage::from_rgba_unmultiplied([gray.width, gray.height], &rgba);
                    ui.ctx()
                        .load_texture("inkling-image", img, egui::TextureOptions::LINEAR)
                });
                let max_w = ui.available_width();
                // Fit the width and 320 px of height; small images grow at most 2.5 times.
                let scale = (max_w / gray.width as f32)
                    .min(320.0 / gray.height as f32)
                    .min(2.5);
                let shown = ui.add(
                    egui::Image::new((
                        tex.id(),
                        egui::vec2(gray.width as f32 * scale, gray.height as f32 * scale),
                    ))
                    .sense(egui::Sense::drag()),
                );
                // Dragging out a rectangle picks the region to recognize.
                let to_image = |p: egui::Pos2| {
                    let v = (p - shown.rect.min) / scale;
                    egui::pos2(
                        v.x.clamp(0.0, gray.width as f32),
                        v.y.clamp(0.0, gray.height as f32),
                    )
                };
                if shown.drag_started()
                    && let Some(p) = shown.interact_pointer_pos()
                {
                    *drag_from = Some(to_image(p));
                }
                if let (Some(a), Some(p)) = (*drag_from, shown.interact_pointer_pos()) {
                    let b = to_image(p);
                    let r = egui::Rect::from_two_pos(a, b);
                    if shown.drag_stopped() {
                        *drag_from = None;
                        if r.width() >= 4.0 && r.height() >= 8.0 {
                            *region = Some(LineBox {
                                x0: r.min.x as usize,
                                y0: r.min.y as usize,
                                x1: (r.max.x as usize).max(r.min.x as usize + 1),
                                y1: (r.max.y as usize).max(r.min.y as usize + 1),
                            });
                            resubmit = true;
                        }
                    } else {
                        ui.painter_at(shown.rect).rect_stroke(
                            egui::Rect::from_min_max(
                                shown.rect.min + r.min.to_vec2() * scale,
                                shown.rect.min + r.max.to_vec2() * scale,
                            ),
                            0.0,
                            egui::Stroke::new(1.5, egui::Color32::from_rgb(240, 150, 0)),
                            egui::StrokeKind::Outside,
                        );
                    }
                }
                if let Some(b) = region {
                    ui.painter_at(shown.rect).rect_stroke(
                        egui::Rect::from_min_max(
                            shown.rect.min + egui::vec2(b.x0 as f32, b.y0 as f32) * scale,
                            shown.rect.min + egui::vec2(b.x1 as f32, b.y1 as f32) * scale,
                        ),
                        0.0,
                        egui::Stroke::new(2.0, egui::Color32::from_rgb(240, 150, 0)),
                        egui::StrokeKind::Outside,
                    );
                }
                // The lines found, numbered, over the image.
                if let (None, Some(outcome)) = (region.as_ref(), &self.result) {
                    let painter = ui.painter_at(shown.rect);
                    for (i, l) in outcome.lines.iter().enumerate() {
                        let b = l.bbox;
                        let r = egui::Rect::from_min_max(
                            shown.rect.min + egui::vec2(b.x0 as f32, b.y0 as f32) * scale,
                            shown.rect.min + egui::vec2(b.x1 as f32, b.y1 as f32) * scale,
                        );
                        let color = egui::Color32::from_rgb(40, 140, 240);
                        painter.rect_stroke(
                            r,
                            2.0,
                            egui::Stroke::new(1.5, color),
                            egui::StrokeKind::Outside,
                        );
                        painter.text(
                            r.left_top(),
                            egui::Align2::RIGHT_TOP,
                            format!("{}", i + 1),
                            egui::FontId::proportional(12.0),
                            color,
                        );
                    }
                }
            }
        }
        if resubmit {
            self.submit_now();
        }
    }

    /// Recognizes the canvas once it has been quiet for the debounce time.
    pub(super) fn debounce(&mut self, ui: &egui::Ui) {
        if !matches!(self.source, Source::Canvas) {
            return;
        }
        let rev = self.canvas.revision;
        let already = self.submitted.is_some_and(|(_, r)| r == rev);
        if already || self.canvas.drawing() {
            return;
        }
        if self.canvas.is_empty() {
            self.result = None;
            self.submitted = None;
            return;
        }
        let changed_at = match self.last_change {
            Some((r, t)) if r == rev => t,
            _ => {
                let now = Instant::now();
                self.last_change = Some((rev, now));
                now
            }
        };
        let wait = Duration::from_millis(self.settings.debounce_ms);
        if changed_at.elapsed() >= wait {
            self.submit_now();
        } else {
            ui.ctx().request_repaint_after(wait - changed_at.elapsed());
        }
    }
}
