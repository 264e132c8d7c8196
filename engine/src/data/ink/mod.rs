//! Digital ink: pen trajectories as strokes of points, the one type shared by the datasets that
//! record pens (UNIPEN, InkML), the synthetic generator and the app's canvas, and drawn by the one
//! rasterizer ([`raster`]) that all of them use.
//!
//! Coordinates are in the source's units with y pointing **down** (image convention); readers
//! of y-up formats flip on reading, so every consumer sees the same orientation.

pub mod augment;
pub mod bank;
pub mod export;
pub mod inkml;
pub mod raster;
pub mod unipen;
pub mod words;

use serde::{Deserialize, Serialize};

/// One sample of the pen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InkPoint {
    /// Horizontal position (grows to the right).
    pub x: f32,
    /// Vertical position (grows downward).
    pub y: f32,
    /// Time in seconds from the first point of the ink, where the device recorded it.
    pub t: Option<f32>,
    /// Pen pressure in [0, 1], where the device recorded it.
    pub pressure: Option<f32>,
}

impl InkPoint {
    /// A point with position only.
    pub fn xy(x: f32, y: f32) -> Self {
        Self {
            x,
            y,
            t: None,
            pressure: None,
        }
    }
}

/// One pen-down trace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InkStroke {
    /// Samples in the order the pen made them.
    pub points: Vec<InkPoint>,
    /// Pen width (diameter at pressure 1) in ink units, where the source fixed it (the app's
    /// canvas); `None` lets the rasterizer's pen decide.
    pub width: Option<f32>,
}

impl InkStroke {
    /// The box around the stroke's points; `None` when empty or a coordinate is not finite.
    pub fn bounds(&self) -> Option<Bounds> {
        let mut b = Bounds {
            x0: f32::INFINITY,
            y0: f32::INFINITY,
            x1: f32::NEG_INFINITY,
            y1: f32::NEG_INFINITY,
        };
        for p in &self.points {
            if !(p.x.is_finite() && p.y.is_finite()) {
                return None;
            }
            b.x0 = b.x0.min(p.x);
            b.y0 = b.y0.min(p.y);
            b.x1 = b.x1.max(p.x);
            b.y1 = b.y1.max(p.y);
        }
        b.x0.is_finite().then_some(b)
    }

    /// A stroke through `points` (x, y) with no time, pressure or width.
    pub fn from_xy(points: &[(f32, f32)]) -> Self {
        Self {
            points: points.iter().map(|&(x, y)| InkPoint::xy(x, y)).collect(),
            width: None,
        }
    }
}

/// An axis-aligned box in ink units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Left edge.
    pub x0: f32,
    /// Top edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Bottom edge.
    pub y1: f32,
}

impl Bounds {
    /// Width.
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    /// Height.
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
}

/// A piece of handwriting: strokes in writing order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ink {
    /// The pen-down traces.
    pub strokes: Vec<InkStroke>,
}

impl Ink {
    /// No point at all.
    pub fn is_empty(&self) -> bool {
        self.strokes.iter().all(|s| s.points.is_empty())
    }

    /// Number of points over all strokes.
    pub fn point_count(&self) -> usize {
        self.strokes.iter().map(|s| s.points.len()).sum()
    }

    /// Every point, stroke after stroke.
    pub fn points(&self) -> impl Iterator<Item = &InkPoint> {
        self.strokes.iter().flat_map(|s| s.points.iter())
    }

    /// The box around every point (pen width not included); `None` when empty or when a
    /// coordinate is not finite.
    pub fn bounds(&self) -> Option<Bounds> {
        let mut all: Option<Bounds> = None;
        for s in self.strokes.iter().filter(|s| !s.points.is_empty()) {
            let b = s.bounds()?;
            all = Some(match all {
                None => b,
                Some(a) => Bounds {
                    x0: a.x0.min(b.x0),
                    y0: a.y0.min(b.y0),
                    x1: a.x1.max(b.x1),
                    y1: a.y1.max(b.y1),
                },
            });
        }
        all
    }

    /// Applies `f` to every point's position (time and pressure kept).
    pub fn map_xy(&mut self, mut f: impl FnMut(f32, f32) -> (f32, f32)) {
        for p in self.strokes.iter_mut().flat_map(|s| s.points.iter_mut()) {
            (p.x, p.y) = f(p.x, p.y);
        }
    }

    /// Moves and scales the ink so that its box starts at (0, 0) and is `height` units tall
    /// (widths scaled alike); nothing happens to an empty or flat ink.
    pub fn fit_height(&mut self, height: f32) {
        let Some(b) = self.bounds() else { return };
        let s = if b.height() > 0.0 {
            height / b.height()
        } else {
            1.0
        };
        self.map_xy(|x, y| ((x - b.x0) * s, (y - b.y0) * s));
        for st in &mut self.strokes {
            st.width = st.width.map(|w| w * s);
        }
    }

    /// Appends `other`, shifted by (`dx`, `dy`).
    pub fn append(&mut self, other: &Ink, dx: f32, dy: f32) {
        for s in &other.strokes {
            let mut s = s.clone();
            for p in &mut s.points {
                p.x += dx;
                p.y += dy;
            }
            self.strokes.push(s);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bounds_fit_and_append() {
        let mut ink = Ink {
            strokes: vec![InkStroke::from_xy(&[(10.0, 20.0), (30.0, 60.0)])],
        };
        let b = ink.bounds().unwrap();
        assert_eq!((b.width(), b.height()), (20.0, 40.0));
        ink.fit_height(10.0);
        let b = ink.bounds().unwrap();
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (0.0, 0.0, 5.0, 10.0));
        let copy = ink.clone();
        ink.append(&copy, 100.0, 0.0);
        assert_eq!(ink.bounds().unwrap().x1, 105.0);
        assert_eq!(ink.point_count(), 4);
        assert!(Ink::default().bounds().is_none() && Ink::default().is_empty());
        let nan = Ink {
            strokes: vec![InkStroke::from_xy(&[(f32::NAN, 0.0)])],
        };
        assert!(nan.bounds().is_none());
    }
}
