//! The scale-out comparison's figure: validation CER (log scale) against training seconds and
//! against lines seen, one line per arm and the target CER dashed, drawn with plotters into a
//! pixel buffer and saved as PNG by `image`.

use super::scale::ScaleReport;
use crate::error::{Error, Result};
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

const SIZE: (u32, u32) = (1400, 520);
const COLORS: [RGBColor; 6] = [
    RGBColor(0, 0, 0),
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// Registers the shipped DejaVu Sans as plotters' "sans-serif" (once per process).
fn font() -> Result<()> {
    static FONT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let path = crate::assets::assets_dir().join("fonts/ocr/DejaVuSans.ttf");
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // plotters keeps fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{}: not a font", path.display()))
    })
    .clone()
    .map_err(|e| Error::Invalid(format!("plot font: {e}")))
}

/// Where a validation lies on a panel's x axis.
type XOf = fn(&super::scale::CurvePoint) -> f64;

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("cannot draw the plot: {e}"))
}

/// Draws `report` into the PNG `path`.
pub fn draw(report: &ScaleReport, path: &Path) -> Result<()> {
    font()?;
    let (w, h) = SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (left, right) = root.split_horizontally(w / 2);
        let (lo, hi) = report
            .arms
            .iter()
            .flat_map(|a| a.curve.iter().map(|p| p.cer))
            .fold((report.target_cer, report.target_cer), |(lo, hi), c| {
                (lo.min(c), hi.max(c))
            });
        let cer_max = hi.min(100.0) * 1.1;
        let cer_min = lo.max(0.1) * 0.8;
        // Down to a power of ten, so that the log axis has a labeled decade even when every
        // CER lies within one (the fine-tuning's 50-80%).
        let cer_min = 10f64.powf(cer_min.log10().floor());
        let panels: [(&DrawingArea<_, _>, &str, f64, XOf); 2] = [
            (
                &left,
                "training seconds (validation excluded)",
                report.arms.iter().map(|a| a.train_s).fold(1.0, f64::max),
                |p| p.train_s,
            ),
            (
                &right,
                "lines seen (all workers)",
                report
                    .arms
                    .iter()
                    .map(|a| a.lines as f64)
                    .fold(1.0, f64::max),
                |p| p.lines as f64,
            ),
        ];
        for (area, x_desc, x_max, x_of) in panels {
            let mut chart = ChartBuilder::on(area)
                .margin(16)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..x_max * 1.02, (cer_min..cer_max).log_scale())
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc("validation CER %")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| format!("{y}"))
                .label_style(("sans-serif", 15))
                .axis_desc_style(("sans-serif", 16))
                .draw()
                .map_err(plot_error)?;
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, report.target_cer), (x_max * 1.02, report.target_cer)],
                    6,
                    4,
                    ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1),
                ))
                .map_err(plot_error)?
                .label(format!("target {:.2}%", report.target_cer))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RGBColor(120, 120, 120)));
            for (i, arm) in report.arms.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                let points: Vec<(f64, f64)> = arm.curve.iter().map(|p| (x_of(p), p.cer)).collect();
                chart
                    .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                    .map_err(plot_error)?
                    .label(arm.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(plot_error)?;
            }
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 15))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerLeft)
                .draw()
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    let img = image::RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| Error::Invalid("plot buffer has the wrong size".into()))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::Invalid(format!("cannot encode the plot: {e}")))?;
    crate::model_file::write_atomic(path, &png)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::experiment::scale::{ArmResult, CurvePoint};

    #[test]
    fn draws_both_panels_into_a_png() {
        let arm = |name: &str, workers: usize, s: f64| ArmResult {
            name: name.into(),
            run: "run".into(),
            workers,
            final_cer: 50.0,
            final_cer_gap: 0.0,
            train_s: s,
            lines: 1600,
            lines_per_s: 1600.0 / s,
            time_to_target_s: Some(s),
            lines_to_target: Some(1600),
            speedup: Some(100.0 / s),
            curve: vec![
                CurvePoint {
                    step: 50,
                    lines: 800,
                    train_s: s / 2.0,
                    cer: 80.0,
                },
                CurvePoint {
                    step: 100,
                    lines: 1600,
                    train_s: s,
                    cer: 50.0,
                },
            ],
        };
        // Every CER within one decade (the fine-tuning's case) still gets a labeled axis.
        let report = ScaleReport {
            reference: "one".into(),
            target_cer: 50.0,
            speedup: Some(2.0),
            speedup_arm: Some("two".into()),
            arms: vec![arm("one", 1, 100.0), arm("two", 2, 50.0)],
        };
        let path =
            std::env::temp_dir().join(format!("inkling-scale-plot-{}.png", std::process::id()));
        draw(&report, &path).unwrap();
        let png = image::open(&path).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), SIZE);
        // Not blank: the curves' colours are there.
        assert!(png.pixels().any(|p| p.0 == [31, 119, 180]));
        if let Ok(keep) = std::env::var("INKLING_KEEP_PLOT") {
            std::fs::copy(&path, keep).unwrap();
        }
        std::fs::remove_file(&path).ok();
    }
}
