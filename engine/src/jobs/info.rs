//! `engine info`: the presets' sizes and costs, and what a model file is.

use crate::error::Result;
use crate::model_file::read_header;
use crate::models::config::CrnnConfig;
use crate::models::cost::summary;
use std::path::Path;

/// A table of presets: parameters, conv3x3 and DBLSTM parameters, GFLOPs at `width`.
pub fn preset_table(
    presets: &[crate::models::config::Preset],
    classes: usize,
    width: usize,
) -> String {
    let mut s = format!(
        "{:<14} {:>10} {:>10} {:>10} {:>9} {:>10}\n",
        "preset", "params", "conv3x3", "dblstm", "GFLOPs", "frames"
    );
    for p in presets {
        let cfg = CrnnConfig::preset(*p, classes);
        let c = summary(&cfg, width);
        let name = p.name();
        s.push_str(&format!(
            "{name:<14} {:>9.3}M {:>9.3}M {:>9.3}M {:>9.3} {:>10}\n",
            c.params as f64 / 1e6,
            c.conv3x3_params as f64 / 1e6,
            c.dblstm_params as f64 / 1e6,
            c.gflops,
            cfg.frames(width)
        ));
    }
    s.push_str(&format!(
        "(line {}x{width} px; GFLOPs = 10^9 multiply-adds per line, the paper's convention)\n",
        40
    ));
    s
}

/// A description of a model file.
pub fn describe_model(path: &Path, width: usize) -> Result<String> {
    let h = read_header(path)?;
    let c = summary(&h.config, width);
    Ok(format!(
        "{}: {:?} {:?}, {} classes, height {}, {:.3}M params, {:.3} GFLOPs at width {width}, {} precision\nprovenance: {}\n",
        path.display(),
        h.role,
        h.config.family,
        h.config.num_classes,
        h.config.height,
        c.params as f64 / 1e6,
        c.gflops,
        if h.half { "half" } else { "full" },
        serde_json::to_string(&h.provenance).unwrap_or_default()
    ))
}
