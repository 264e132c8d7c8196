//! Drawing into ink coverage: the pen primitive that rendered fonts, stroke fonts, digits and
//! real ink all use.

use super::normalize::Gray;

/// Draws an anti-aliased capsule (a segment with round caps) of radius `r` from `a` to `b`,
/// in pixel coordinates, into ink coverage `cov` (1 = ink; kept where already darker). Only the
/// capsule's bounding box is visited.
pub fn draw_capsule(cov: &mut Gray, a: (f32, f32), b: (f32, f32), r: f32) {
    let (width, height) = (cov.width, cov.height);
    let bx0 = (a.0.min(b.0) - r - 1.0).floor().max(0.0) as usize;
    let by0 = (a.1.min(b.1) - r - 1.0).floor().max(0.0) as usize;
    let bx1 = ((a.0.max(b.0) + r + 1.0).ceil().max(0.0) as usize).min(width);
    let by1 = ((a.1.max(b.1) + r + 1.0).ceil().max(0.0) as usize).min(height);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for y in by0..by1 {
        for x in bx0..bx1 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t = if len2 > 0.0 {
                (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let d = (px - a.0 - t * dx).hypot(py - a.1 - t * dy);
            let cover = (r + 0.5 - d).clamp(0.0, 1.0);
            let v = &mut cov.pixels[y * width + x];
            *v = v.max(cover);
        }
    }
}
