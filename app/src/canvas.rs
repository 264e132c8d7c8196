//! The writing canvas: strokes kept as vector data (points with pressure), drawn smoothly,
//! with undo/redo, clear, stroke width and a guide baseline, and rasterized into a grayscale
//! line image that goes through the same normalization as any image file.

use eframe::egui;
use engine::data::normalize::Gray;
use engine::data::render::draw_capsule;
use serde::{Deserialize, Serialize};

/// One stroke: points `[x, y, pressure]` in canvas coordinates (pixels from the top-left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stroke {
    /// The points.
    pub points: Vec<[f32; 3]>,
    /// Width in pixels at pressure 1.
    pub width: f32,
}

/// The canvas state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Canvas {
    /// Finished strokes, oldest first.
    pub strokes: Vec<Stroke>,
    /// Undone strokes, most recent last.
    #[serde(skip)]
    redo: Vec<Stroke>,
    /// The stroke being drawn.
    #[serde(skip)]
    current: Option<Stroke>,
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
            stroke_width: 4.0,
            height: 180.0,
            revision: 0,
        }
    }
}

/// Points closer than this to the previous one are dropped (jitter), in pixels.
const MIN_STEP: f32 = 1.5;

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
    pub fn push_stroke(&mut self, stroke: Stroke) {
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

    /// Draws the canvas and handles the pointer (mouse, pen or touch). Returns its response.
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
        let pressure = ui.input(|i| {
            i.events.iter().rev().find_map(|e| match e {
                egui::Event::Touch { force, .. } => *force,
                _ => None,
            })
        });
        if let Some(pos) = response.interact_pointer_pos() {
            let local = pos - rect.min;
            let p = [local.x, local.y, pressure.unwrap_or(1.0).clamp(0.1, 1.0)];
            let width = self.stroke_width;
            let current = self.current.get_or_insert_with(|| Stroke {
                points: Vec::new(),
                width,
            });
            let far_enough = current
                .points
                .last()
                .is_none_or(|q| (q[0] - p[0]).hypot(q[1] - p[1]) >= MIN_STEP);
            if far_enough {
                // Light smoothing: each new point is pulled a third of the way back toward
                // the previous one, which removes the jitter of fast mouse moves.
                let p = match current.points.last() {
                    Some(q) => [
                        p[0] * 2.0 / 3.0 + q[0] / 3.0,
                        p[1] * 2.0 / 3.0 + q[1] / 3.0,
                        p[2],
                    ],
                    None => p,
                };
                current.points.push(p);
            }
        }
        if (response.drag_stopped() || !response.dragged())
            && let Some(s) = self.current.take()
        {
            self.push_stroke(s);
        }
        let ink = egui::Color32::from_gray(20);
        for s in self.strokes.iter().chain(self.current.as_ref()) {
            let pts: Vec<egui::Pos2> = s
                .points
                .iter()
                .map(|p| rect.min + egui::vec2(p[0], p[1]))
                .collect();
            let w = s.width * s.points.first().map_or(1.0, |p| p[2]);
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

    /// The strokes as a grayscale image (white paper, black ink), cropped to the ink with a
    /// margin; `None` when the canvas is empty.
    pub fn rasterize(&self) -> Option<Gray> {
        rasterize(&self.strokes)
    }
}

/// Renders strokes as anti-aliased capsules (segments with round caps) into a gray image.
pub fn rasterize(strokes: &[Stroke]) -> Option<Gray> {
    let margin = 6.0;
    let mut x0 = f32::INFINITY;
    let (mut y0, mut x1, mut y1) = (f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY);
    for s in strokes {
        for p in &s.points {
            let r = s.width * p[2] / 2.0;
            x0 = x0.min(p[0] - r);
            y0 = y0.min(p[1] - r);
            x1 = x1.max(p[0] + r);
            y1 = y1.max(p[1] + r);
        }
    }
    if !x0.is_finite() {
        return None;
    }
    let (ox, oy) = (x0 - margin, y0 - margin);
    let width = (x1 - x0 + 2.0 * margin).ceil().max(1.0) as usize;
    let height = (y1 - y0 + 2.0 * margin).ceil().max(1.0) as usize;
    let mut ink = Gray {
        pixels: vec![0.0f32; width * height],
        width,
        height,
    };
    for s in strokes {
        let pts: Vec<[f32; 3]> = s
            .points
            .iter()
            .map(|p| [p[0] - ox, p[1] - oy, s.width * p[2] / 2.0])
            .collect();
        let segments: Vec<([f32; 3], [f32; 3])> = if pts.len() == 1 {
            vec![(pts[0], pts[0])]
        } else {
            pts.windows(2).map(|w| (w[0], w[1])).collect()
        };
        for (a, b) in segments {
            let r = a[2].max(b[2]).max(0.5);
            draw_capsule(&mut ink, (a[0], a[1]), (b[0], b[1]), r);
        }
    }
    ink.pixels.iter_mut().for_each(|v| *v = 1.0 - *v);
    Some(ink)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn undo_redo_clear_and_rasterize() {
        let mut c = Canvas::default();
        assert!(c.rasterize().is_none());
        c.push_stroke(Stroke {
            points: vec![[10.0, 10.0, 1.0], [60.0, 10.0, 1.0]],
            width: 4.0,
        });
        c.push_stroke(Stroke {
            points: vec![[10.0, 30.0, 1.0]],
            width: 4.0,
        });
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
}
