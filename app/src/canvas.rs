//! The writing canvas: strokes kept as engine ink ([`engine::data::ink`]) with every pointer
//! position the platform reports (all `PointerMoved` events of a frame, not one point per
//! frame, and no smoothing), with undo/redo, clear, stroke width and a guide baseline, and
//! rasterized by the engine's one rasterizer, the same function and pen model that draw the
//! real handwriting the models train on.

use eframe::egui;
use engine::data::image::normalize::Gray;
use engine::data::ink::raster::page;
use engine::data::ink::{Ink, InkPoint, InkStroke};
use serde::{Deserialize, Serialize};

/// Empty pixels around the ink of a rasterized canvas (those of the evaluation images).
pub const MARGIN: f32 = engine::data::ink::export::MARGIN;

/// The canvas state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Canvas {
    /// Finished strokes, oldest first, in canvas pixels (from the top-left), each with the
    /// pen width it was drawn with.
    pub strokes: Vec<InkStroke>,
    /// Undone strokes, most recent last.
    #[serde(skip)]
    redo: Vec<InkStroke>,
    /// The stroke being drawn.
    #[serde(skip)]
    current: Option<InkStroke>,
    /// Input time of the first point ever drawn, so stroke times start near 0.
    #[serde(skip)]
    t0: Option<f64>,
    /// Stroke width in pixels.
    pub stroke_width: f32,
    /// Canvas height in pixels.
    pub height: f32,
    /// Bumped on every change, so that the recognizer knows when to run.
    #[serde(skip)]
    pub revision: u64,
}

impl Default for Canvas {
    fn default() -> Self {
        Self {
            strokes: Vec::new(),
            redo: Vec::new(),
            current: None,
            t0: None,
            stroke_width: 4.0,
            height: 180.0,
            revision: 0,
        }
    }
}

impl Canvas {
    /// No strokes at all.
    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty() && self.current.is_none()
    }

    /// Whether a stroke is being drawn right now.
    pub fn drawing(&self) -> bool {
        self.current.is_some()
    }

    /// Adds a finished stroke (also used by tests and scripted input).
    pub fn push_stroke(&mut self, stroke: InkStroke) {
        if !stroke.points.is_empty() {
            self.strokes.push(stroke);
            self.redo.clear();
            self.revision += 1;
        }
    }

    /// Removes the last stroke.
    pub fn undo(&mut self) {
        if let Some(s) = self.strokes.pop() {
            self.redo.push(s);
            self.revision += 1;
        }
    }

    /// Restores the last undone stroke.
    pub fn redo(&mut self) {
        if let Some(s) = self.redo.pop() {
            self.strokes.push(s);
            self.revision += 1;
        }
    }

    /// Whether [`Self::undo`] / [`Self::redo`] would do something.
    pub fn can_undo(&self) -> bool {
        !self.strokes.is_empty()
    }

    /// See [`Self::can_undo`].
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Removes every stroke (undoable stroke by stroke).
    pub fn clear(&mut self) {
        while let Some(s) = self.strokes.pop() {
            self.redo.push(s);
        }
        self.revision += 1;
    }

    /// The finished strokes as ink (canvas pixels, y down).
    pub fn ink(&self) -> Ink {
        Ink {
            strokes: self.strokes.clone(),
        }
    }

    /// Replaces the strokes with `ink` (an opened InkML file), scaled to fill about half the
    /// canvas height and placed at its left; undoable as a whole by [`Self::clear`]'s redo.
    pub fn set_ink(&mut self, ink: &Ink) {
        let mut ink = ink.clone();
        ink.fit_height(self.height * 0.5);
        let width = self.stroke_width;
        self.clear();
        self.redo.clear();
        let (dx, dy) = (20.0, self.height * 0.2);
        for s in ink.strokes {
            let mut s = s;
            for p in &mut s.points {
                p.x += dx;
                p.y += dy;
            }
            s.width = Some(s.width.unwrap_or(width));
            self.strokes.push(s);
        }
        self.revision += 1;
    }

    /// Draws the canvas and handles the pointer (mouse, pen or touch): every position the
    /// frame's input reports between a press on the canvas and the release. Returns the
    /// canvas's response.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> egui::Response {
        let size = egui::vec2(ui.available_width(), self.height);
        let (response, painter) = ui.allocate_painter(size, egui::Sense::drag());
        response
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Writing canvas"));
        let rect = response.rect;
        painter.rect_filled(rect, 4.0, egui::Color32::WHITE);
        // Guide baseline at two thirds of the height.
        let base_y = rect.top() + self.height * 2.0 / 3.0;
        painter.hline(
            rect.x_range(),
            base_y,
            egui::Stroke::new(1.0, egui::Color32::from_rgb(170, 200, 240)),
        );
        let (events, time) = ui.input(|i| (i.events.clone(), i.time));
        let on_top = |pos: egui::Pos2| ui.ctx().layer_id_at(pos) == Some(ui.layer_id());
        let enabled = ui.is_enabled();
        let mut pressure: Option<f32> = None;
        for event in &events {
            match event {
                egui::Event::Touch { force, .. } => {
                    pressure = force.map(|f| f.clamp(0.1, 1.0));
                }
                egui::Event::PointerButton {
                    pos,
                    button: egui::PointerButton::Primary,
                    pressed: true,
                    ..
                } if enabled && rect.contains(*pos) && on_top(*pos) => {
                    self.finish_stroke();
                    self.current = Some(InkStroke {
                        points: Vec::new(),
                        width: Some(self.stroke_width),
                    });
                    self.add_point(*pos - rect.min, time, pressure);
                }
                egui::Event::PointerMoved(pos) if self.current.is_some() => {
                    self.add_point(*pos - rect.min, time, pressure);
                }
                egui::Event::PointerButton {
                    pos,
                    button: egui::PointerButton::Primary,
                    pressed: false,
                    ..
                } if self.current.is_some() => {
                    self.add_point(*pos - rect.min, time, pressure);
                    self.finish_stroke();
                }
                egui::Event::PointerGone | egui::Event::WindowFocused(false) => {
                    self.finish_stroke();
                }
                _ => {}
            }
        }
        let ink = egui::Color32::from_gray(20);
        for s in self.strokes.iter().chain(self.current.as_ref()) {
            let pts: Vec<egui::Pos2> = s
                .points
                .iter()
                .map(|p| rect.min + egui::vec2(p.x, p.y))
                .collect();
            let pressure = s.points.first().and_then(|p| p.pressure).unwrap_or(1.0);
            let w = s.width.unwrap_or(self.stroke_width) * pressure;
            match pts.len() {
                0 => {}
                1 => {
                    painter.circle_filled(pts[0], w / 2.0, ink);
                }
                _ => {
                    painter.add(egui::Shape::line(pts, egui::Stroke::new(w, ink)));
                }
            }
        }
        response
    }

    /// Adds a point to the stroke being drawn (exact repeats of the last point are dropped).
    fn add_point(&mut self, local: egui::Vec2, time: f64, pressure: Option<f32>) {
        let t0 = *self.t0.get_or_insert(time);
        let Some(current) = self.current.as_mut() else {
            return;
        };
        let p = InkPoint {
            x: local.x,
            y: local.y,
            t: Some((time - t0) as f32),
            pressure,
        };
        if current
            .points
            .last()
            .is_none_or(|q| (q.x, q.y) != (p.x, p.y))
        {
            current.points.push(p);
        }
    }

    fn finish_stroke(&mut self) {
        if let Some(s) = self.current.take() {
            self.push_stroke(s);
        }
    }

    /// The strokes as a grayscale image (white paper, black ink), cropped to the ink with a
    /// margin; `None` when the canvas is empty.
    pub fn rasterize(&self) -> Option<Gray> {
        rasterize(&self.strokes, self.stroke_width)
    }
}

/// Strokes in canvas pixels as the canvas rasterizes them: the engine's rasterizer with the
/// canvas's pen (`width` for strokes without their own), on white paper.
pub fn rasterize(strokes: &[InkStroke], width: f32) -> Option<Gray> {
    let ink = Ink {
        strokes: strokes.to_vec(),
    };
    page(&ink, width, MARGIN)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn undo_redo_clear_and_rasterize() {
        let mut c = Canvas::default();
        assert!(c.rasterize().is_none());
        c.push_stroke(InkStroke {
            width: Some(4.0),
            ..InkStroke::from_xy(&[(10.0, 10.0), (60.0, 10.0)])
        });
        c.push_stroke(InkStroke::from_xy(&[(10.0, 30.0)]));
        let g = c.rasterize().expect("ink");
        // 50 px long line + caps + margins; 20 px tall + caps + margins.
        assert_eq!((g.width, g.height), (66, 36));
        let dark = g.pixels.iter().filter(|&&v| v < 0.5).count();
        assert!(dark > 150 && dark < 400, "{dark} dark pixels");
        c.undo();
        assert_eq!(c.strokes.len(), 1);
        c.redo();
        assert_eq!(c.strokes.len(), 2);
        let rev = c.revision;
        c.clear();
        assert!(c.is_empty() && c.revision > rev);
        c.undo();
        assert!(c.is_empty());
        c.redo();
        assert_eq!(c.strokes.len(), 1);
    }

    #[test]
    fn opened_ink_fills_half_the_canvas() {
        let mut c = Canvas::default();
        let ink = Ink {
            strokes: vec![InkStroke::from_xy(&[(0.0, 0.0), (1000.0, 500.0)])],
        };
        c.set_ink(&ink);
        let b = c.ink().bounds().expect("ink");
        assert!((b.height() - c.height * 0.5).abs() < 1e-3);
        assert_eq!(c.strokes[0].width, Some(c.stroke_width));
    }
}
