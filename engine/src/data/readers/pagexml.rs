//! Reader for PAGE-XML pages: each `TextLine` is cropped from the page image by its polygon
//! (pixels outside the polygon become the paper level) and labeled with its `Unicode` text.

use crate::data::dataset::{Dataset, LineImage, LineSample, Skipped};
use crate::data::image::normalize::{Gray, load_gray};
use crate::error::{Error, Result};
use std::path::Path;

/// Reads one PAGE-XML file, or every `.xml` file of a folder (sorted by name).
pub fn read_page(path: &Path) -> Result<Dataset> {
    let mut data = Dataset {
        origin: path.display().to_string(),
        ..Default::default()
    };
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect();
        files.sort();
        for f in files {
            read_page_file(&f, &mut data);
        }
    } else {
        read_page_file(path, &mut data);
    }
    Ok(data)
}

fn read_page_file(path: &Path, data: &mut Dataset) {
    let skip = |line: usize, reason: String| Skipped {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let xml = match std::fs::read_to_string(path) {
        Ok(x) => x,
        Err(e) => return data.skipped.push(skip(0, format!("cannot read: {e}"))),
    };
    let doc = match roxmltree::Document::parse(&xml) {
        Ok(d) => d,
        Err(e) => return data.skipped.push(skip(0, format!("invalid XML: {e}"))),
    };
    let Some(page) = doc.descendants().find(|n| n.tag_name().name() == "Page") else {
        return data.skipped.push(skip(0, "no Page element".into()));
    };
    let Some(file) = page.attribute("imageFilename") else {
        return data.skipped.push(skip(
            line_of(&doc, page),
            "Page has no imageFilename".into(),
        ));
    };
    let image_path = path.parent().unwrap_or(Path::new(".")).join(file);
    let gray = match load_gray(&image_path) {
        Ok(g) => g,
        Err(e) => return data.skipped.push(skip(line_of(&doc, page), e.to_string())),
    };
    for line in doc
        .descendants()
        .filter(|n| n.tag_name().name() == "TextLine")
    {
        let at = line_of(&doc, line);
        let id = line.attribute("id").unwrap_or("line").to_owned();
        let points = line
            .children()
            .find(|n| n.tag_name().name() == "Coords")
            .and_then(|c| c.attribute("points"));
        let Some(points) = points else {
            data.skipped
                .push(skip(at, format!("TextLine {id} has no Coords points")));
            continue;
        };
        let polygon = match parse_points(points) {
            Ok(p) if p.len() >= 3 => p,
            Ok(_) => {
                data.skipped.push(skip(
                    at,
                    format!("TextLine {id}: polygon has fewer than 3 points"),
                ));
                continue;
            }
            Err(e) => {
                data.skipped.push(skip(at, format!("TextLine {id}: {e}")));
                continue;
            }
        };
        // The line's own TextEquiv (not those of its Words).
        let text = line
            .children()
            .filter(|n| n.tag_name().name() == "TextEquiv")
            .find_map(|te| te.children().find(|n| n.tag_name().name() == "Unicode"))
            .and_then(|u| u.text())
            .map(str::trim)
            .unwrap_or("");
        if text.is_empty() {
            data.skipped
                .push(skip(at, format!("TextLine {id} has no Unicode text")));
            continue;
        }
        match crop_polygon(&gray, &polygon) {
            Some(crop) => data.samples.push(LineSample {
                id: format!(
                    "{}:{id}",
                    path.file_stem().unwrap_or_default().to_string_lossy()
                ),
                image: LineImage::Pixels(crop),
                text: text.to_owned(),
                personal: false,
            }),
            None => data.skipped.push(skip(
                at,
                format!("TextLine {id}: polygon lies outside the image"),
            )),
        }
    }
}

fn line_of(doc: &roxmltree::Document, node: roxmltree::Node) -> usize {
    doc.text_pos_at(node.range().start).row as usize
}

/// Parses `"x1,y1 x2,y2 ..."`.
fn parse_points(s: &str) -> std::result::Result<Vec<(f32, f32)>, String> {
    s.split_whitespace()
        .map(|p| {
            let (x, y) = p
                .split_once(',')
                .ok_or_else(|| format!("bad point {p:?}"))?;
            let x: f32 = x.parse().map_err(|_| format!("bad x in {p:?}"))?;
            let y: f32 = y.parse().map_err(|_| format!("bad y in {p:?}"))?;
            Ok((x, y))
        })
        .collect()
}

/// Crops the polygon's bounding box; pixels outside the polygon get the median paper level.
pub fn crop_polygon(gray: &Gray, polygon: &[(f32, f32)]) -> Option<Gray> {
    let (w, h) = (gray.width as f32, gray.height as f32);
    let x0 = polygon
        .iter()
        .map(|p| p.0)
        .fold(f32::MAX, f32::min)
        .max(0.0)
        .floor() as usize;
    let y0 = polygon
        .iter()
        .map(|p| p.1)
        .fold(f32::MAX, f32::min)
        .max(0.0)
        .floor() as usize;
    let x1 = polygon
        .iter()
        .map(|p| p.0)
        .fold(f32::MIN, f32::max)
        .min(w)
        .ceil() as usize;
    let y1 = polygon
        .iter()
        .map(|p| p.1)
        .fold(f32::MIN, f32::max)
        .min(h)
        .ceil() as usize;
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let (cw, ch) = (x1 - x0, y1 - y0);
    let mut pixels = gray.crop(x0, y0, x1, y1).pixels;
    let mut sorted = pixels.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let paper = sorted[sorted.len() / 2];
    for y in 0..ch {
        for x in 0..cw {
            let p = ((x + x0) as f32 + 0.5, (y + y0) as f32 + 0.5);
            if !inside(polygon, p) {
                pixels[y * cw + x] = paper;
            }
        }
    }
    Some(Gray {
        pixels,
        width: cw,
        height: ch,
    })
}

/// Even-odd point-in-polygon test.
fn inside(poly: &[(f32, f32)], (px, py): (f32, f32)) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (xi, yi) = poly[i];
        let (xj, yj) = poly[j];
        if (yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn polygon_crop_masks_outside_pixels() {
        let gray = Gray {
            pixels: vec![0.0; 100],
            width: 10,
            height: 10,
        };
        // A triangle: the corner opposite the hypotenuse is outside.
        let crop = crop_polygon(&gray, &[(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)]).unwrap();
        assert_eq!((crop.width, crop.height), (10, 10));
        assert_eq!(crop.pixels[0], 0.0);
        assert!(!inside(&[(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)], (9.5, 9.5)));
        assert!(parse_points("1,2 3,x").is_err());
    }
}
