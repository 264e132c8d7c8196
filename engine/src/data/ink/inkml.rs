//! InkML (W3C Ink Markup Language): read and write traces with their transcription, the
//! exchange format of digital-ink tools.
//!
//! Read: the `<traceFormat>` channels of the first `<context>` (X and Y required; T taken as
//! seconds, F as pressure in [0, 1] where its maximum is at most 1, else scaled by it), every
//! `<trace>` of the document in order (inside `<traceGroup>`s too) with explicit values and the
//! `'` (first difference) and `"` (second difference) prefixes, brush widths from `<brush>`
//! elements, and the first `<annotation type="truth">` (or `"transcription"`) of the `<ink>`
//! element as the text. Write: X Y, plus T and F when every point has them, one `<brush>` per
//! stroke width, and the text as `<annotation type="truth">`.
//!
//! InkML's y grows downward like an image's, so no flip is needed.

use super::{Ink, InkPoint, InkStroke};
use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Ink with its transcription, as stored in one InkML file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InkDocument {
    /// The traces.
    pub ink: Ink,
    /// The transcription, where the file has one.
    pub text: Option<String>,
}

/// Reads an InkML file.
pub fn read(path: &Path) -> Result<InkDocument> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, path)
}

/// Writes an InkML file (atomically: a temporary file renamed into place).
pub fn write(path: &Path, doc: &InkDocument) -> Result<()> {
    let tmp = path.with_extension("inkml.tmp");
    std::fs::write(&tmp, to_string(doc)).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Parses InkML text; `source` names it in errors.
pub fn parse(text: &str, source: &Path) -> Result<InkDocument> {
    let doc = roxmltree::Document::parse(text).map_err(|e| Error::Data {
        path: source.to_owned(),
        line: e.pos().row as usize,
        message: format!("not well-formed XML: {e}"),
    })?;
    let line_of = |n: roxmltree::Node| doc.text_pos_at(n.range().start).row as usize;
    let bad = |n: roxmltree::Node, message: String| Error::Data {
        path: source.to_owned(),
        line: line_of(n),
        message,
    };
    let root = doc.root_element();
    if root.tag_name().name() != "ink" {
        return Err(bad(
            root,
            format!(
                "the root element is <{}>, not <ink>",
                root.tag_name().name()
            ),
        ));
    }
    // Channels of the (first) trace format; X Y when none is declared.
    let mut channels: Vec<String> = vec!["X".into(), "Y".into()];
    if let Some(tf) = root.descendants().find(|n| n.has_tag_name("traceFormat")) {
        let names: Vec<String> = tf
            .descendants()
            .filter(|n| n.has_tag_name("channel"))
            .filter_map(|n| n.attribute("name").map(str::to_uppercase))
            .collect();
        if !names.is_empty() {
            channels = names;
        }
    }
    let (Some(cx), Some(cy)) = (
        channels.iter().position(|c| c == "X"),
        channels.iter().position(|c| c == "Y"),
    ) else {
        return Err(Error::Data {
            path: source.to_owned(),
            line: 0,
            message: format!("the trace format has no X and Y channels: {channels:?}"),
        });
    };
    let ct = channels.iter().position(|c| c == "T");
    let cf = channels.iter().position(|c| c == "F");
    // Brush widths by id.
    let mut brushes = std::collections::HashMap::new();
    for b in root.descendants().filter(|n| n.has_tag_name("brush")) {
        let id = b
            .attributes()
            .find(|a| a.name() == "id")
            .map(|a| a.value().to_owned());
        let width = b
            .children()
            .filter(|n| n.has_tag_name("brushProperty"))
            .find(|n| n.attribute("name") == Some("width"))
            .and_then(|n| n.attribute("value"))
            .and_then(|v| v.parse::<f32>().ok());
        if let (Some(id), Some(w)) = (id, width) {
            brushes.insert(id, w);
        }
    }
    let mut ink = Ink::default();
    for trace in root.descendants().filter(|n| n.has_tag_name("trace")) {
        let body = trace.text().unwrap_or("");
        let rows = parse_trace(body, channels.len()).map_err(|m| bad(trace, m))?;
        let width = trace
            .attribute("brushRef")
            .and_then(|r| brushes.get(r.trim_start_matches('#')))
            .copied();
        let points = rows
            .iter()
            .map(|v| InkPoint {
                x: v[cx] as f32,
                y: v[cy] as f32,
                t: ct.map(|c| v[c] as f32),
                pressure: cf.map(|c| v[c] as f32),
            })
            .collect();
        ink.strokes.push(InkStroke { points, width });
    }
    // Pressure in [0, 1]: devices write their own range.
    let max_f = ink
        .points()
        .filter_map(|p| p.pressure)
        .fold(0.0f32, f32::max);
    if max_f > 1.0 {
        for p in ink.strokes.iter_mut().flat_map(|s| s.points.iter_mut()) {
            p.pressure = p.pressure.map(|f| f / max_f);
        }
    }
    let text = root
        .children()
        .filter(|n| n.has_tag_name("annotation"))
        .find(|n| matches!(n.attribute("type"), Some("truth" | "transcription")))
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned());
    Ok(InkDocument { ink, text })
}

/// The values of a trace body: points separated by commas, values by spaces, each value
/// explicit (optionally `!`), a first difference (`'`) or a second difference (`"`).
fn parse_trace(body: &str, channels: usize) -> std::result::Result<Vec<Vec<f64>>, String> {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut prev = vec![0.0f64; channels];
    let mut velocity = vec![0.0f64; channels];
    // Per channel: 0 explicit, 1 first difference, 2 second difference (modes persist).
    let mut mode = vec![0u8; channels];
    for (k, point) in body.split(',').enumerate() {
        if point.trim().is_empty() {
            continue;
        }
        let tokens = split_values(point);
        if tokens.len() < channels {
            return Err(format!(
                "point {} of a trace has {} values; the trace format has {channels} channels",
                k + 1,
                tokens.len()
            ));
        }
        let mut row = Vec::with_capacity(channels);
        for (c, tok) in tokens.iter().take(channels).enumerate() {
            let (m, num) = match tok.as_bytes().first() {
                Some(b'!') => (0, &tok[1..]),
                Some(b'\'') => (1, &tok[1..]),
                Some(b'"') => (2, &tok[1..]),
                _ => (mode[c], &tok[..]),
            };
            mode[c] = m;
            let v: f64 = num
                .parse()
                .map_err(|_| format!("point {} of a trace: {tok:?} is not a number", k + 1))?;
            let value = match m {
                0 => v,
                1 => prev[c] + v,
                _ => prev[c] + velocity[c] + v,
            };
            if !value.is_finite() {
                return Err(format!("point {} of a trace: {tok:?} is not finite", k + 1));
            }
            velocity[c] = if rows.is_empty() {
                0.0
            } else {
                value - prev[c]
            };
            prev[c] = value;
            row.push(value);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Splits a point into value tokens: by whitespace, and before a prefix that starts a new value
/// (`'`, `"`, `!`, or a sign after a digit), as InkML allows "1'2-3".
fn split_values(point: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in point.chars() {
        let starts_new = matches!(c, '\'' | '"' | '!')
            || (c == '-'
                && cur
                    .chars()
                    .last()
                    .is_some_and(|l| l.is_ascii_digit() || l == '.'));
        if c.is_whitespace() || starts_new {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if !c.is_whitespace() {
                cur.push(c);
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The InkML text of a document.
pub fn to_string(doc: &InkDocument) -> String {
    let has_t = !doc.ink.is_empty() && doc.ink.points().all(|p| p.t.is_some());
    let has_f = !doc.ink.is_empty() && doc.ink.points().all(|p| p.pressure.is_some());
    let mut widths: Vec<f32> = Vec::new();
    for s in &doc.ink.strokes {
        if let Some(w) = s.width
            && !widths.contains(&w)
        {
            widths.push(w);
        }
    }
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ink xmlns=\"http://www.w3.org/2003/InkML\">\n",
    );
    out.push_str("  <definitions>\n    <context xml:id=\"ctx0\">\n      <traceFormat>\n");
    out.push_str("        <channel name=\"X\" type=\"decimal\"/>\n");
    out.push_str("        <channel name=\"Y\" type=\"decimal\"/>\n");
    if has_t {
        out.push_str("        <channel name=\"T\" type=\"decimal\" units=\"s\"/>\n");
    }
    if has_f {
        out.push_str("        <channel name=\"F\" type=\"decimal\"/>\n");
    }
    out.push_str("      </traceFormat>\n    </context>\n");
    for (i, w) in widths.iter().enumerate() {
        let _ = writeln!(
            out,
            "    <brush xml:id=\"br{i}\"><brushProperty name=\"width\" value=\"{w}\"/></brush>"
        );
    }
    out.push_str("  </definitions>\n");
    if let Some(text) = &doc.text {
        let _ = writeln!(
            out,
            "  <annotation type=\"truth\">{}</annotation>",
            escape(text)
        );
    }
    for s in &doc.ink.strokes {
        let brush = s
            .width
            .and_then(|w| widths.iter().position(|&x| x == w))
            .map(|i| format!(" brushRef=\"#br{i}\""))
            .unwrap_or_default();
        let _ = write!(out, "  <trace contextRef=\"#ctx0\"{brush}>");
        for (k, p) in s.points.iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{} {}", p.x, p.y);
            if has_t {
                let _ = write!(out, " {}", p.t.unwrap_or(0.0));
            }
            if has_f {
                let _ = write!(out, " {}", p.pressure.unwrap_or(1.0));
            }
        }
        out.push_str("</trace>\n");
    }
    out.push_str("</ink>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> InkDocument {
        let p = |x, y, t, f| InkPoint {
            x,
            y,
            t: Some(t),
            pressure: Some(f),
        };
        InkDocument {
            ink: Ink {
                strokes: vec![
                    InkStroke {
                        points: vec![p(1.5, 2.0, 0.0, 0.5), p(3.0, 4.25, 0.01, 0.75)],
                        width: Some(4.0),
                    },
                    InkStroke {
                        points: vec![p(10.0, -2.0, 0.3, 1.0)],
                        width: Some(2.5),
                    },
                ],
            },
            text: Some("a < b & \"c\"".into()),
        }
    }

    #[test]
    fn a_document_round_trips() {
        let doc = sample();
        let text = to_string(&doc);
        let back = parse(&text, Path::new("x.inkml")).unwrap();
        assert_eq!(back, doc);
        // Without time and pressure, only X Y are written and read back.
        let mut plain = doc.clone();
        for p in plain
            .ink
            .strokes
            .iter_mut()
            .flat_map(|s| s.points.iter_mut())
        {
            p.t = None;
            p.pressure = None;
        }
        plain.text = None;
        let back = parse(&to_string(&plain), Path::new("x.inkml")).unwrap();
        assert_eq!(back, plain);
        // Through a file.
        let dir = std::env::temp_dir().join(format!("inkml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("line.inkml");
        write(&path, &doc).unwrap();
        assert_eq!(read(&path).unwrap(), doc);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn differences_groups_and_pressure_ranges_are_read() {
        let text = r#"<ink xmlns="http://www.w3.org/2003/InkML">
  <traceFormat><channel name="X"/><channel name="Y"/><channel name="F"/></traceFormat>
  <annotation type="truth">hi</annotation>
  <traceGroup>
    <trace>10 0 512, '5 '1 1024, "0 "0 0</trace>
    <trace>1-2 0,2-3 0</trace>
  </traceGroup>
</ink>"#;
        let doc = parse(text, Path::new("t.inkml")).unwrap();
        assert_eq!(doc.text.as_deref(), Some("hi"));
        let s = &doc.ink.strokes[0].points;
        assert_eq!((s[1].x, s[1].y), (15.0, 1.0));
        // Second difference 0 keeps the velocity: 15 + 5, 1 + 1.
        assert_eq!((s[2].x, s[2].y), (20.0, 2.0));
        assert_eq!(s[1].pressure, Some(1.0));
        assert_eq!(s[0].pressure, Some(0.5));
        let t = &doc.ink.strokes[1].points;
        assert_eq!((t[0].x, t[0].y, t[1].x, t[1].y), (1.0, -2.0, 2.0, -3.0));
    }

    #[test]
    fn malformed_files_name_the_line() {
        let err = parse(
            "<ink>\n<trace>1 2, 3</trace>\n</ink>",
            Path::new("bad.inkml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("bad.inkml:2:") && err.contains("1 values"),
            "{err}"
        );
        let err = parse("<ink>\n<trace>1 x</trace></ink>", Path::new("bad.inkml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.inkml:2:") && err.contains("\"x\""),
            "{err}"
        );
        let err = parse("<ink><trace>1 2", Path::new("cut.inkml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cut.inkml:1:") && err.contains("XML"), "{err}");
        let err = parse("<svg/>", Path::new("s.inkml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("<svg>"), "{err}");
        let err = parse(
            "<ink><traceFormat><channel name=\"X\"/></traceFormat></ink>",
            Path::new("c.inkml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no X and Y"), "{err}");
    }
}
