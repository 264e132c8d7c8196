//! Model configuration: a CNN layer plan (VGG or DarkNet), the DBLSTM head and the IP layer,
//! with the named presets of the paper and of this CPU-only machine.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// One layer of a CNN plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    /// Convolution (kernel 1 or 3, "same" padding, bias) + ReLU.
    Conv {
        /// Kernel size: 1 or 3.
        kernel: usize,
        /// Output channels.
        out: usize,
    },
    /// Max pooling with kernel = stride = `[h, w]`.
    Pool {
        /// Vertical factor.
        h: usize,
        /// Horizontal factor.
        w: usize,
    },
    /// The final linear conv1x1 that narrows the channels before the feature sequence
    /// (no ReLU).
    Project {
        /// Output channels.
        out: usize,
    },
    /// A Tucker-2 decomposed conv3x3: conv1x1 (in -> r_in), conv3x3 (r_in -> r_out),
    /// conv1x1 (r_out -> out, bias) + ReLU.
    Tucker {
        /// Rank on the input side.
        r_in: usize,
        /// Rank on the output side.
        r_out: usize,
        /// Output channels.
        out: usize,
    },
}

/// The family of a backbone (informational; the plan defines the network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// VGG: stacks of conv3x3 between poolings (the teacher).
    Vgg,
    /// DarkNet: conv3x3 alternating with conv1x1 bottlenecks (the student).
    Darknet,
    /// A VGG whose conv3x3 layers were Tucker-decomposed.
    VggTucker,
    /// A DarkNet (a distilled student) whose conv3x3 layers were Tucker-decomposed.
    DarknetTucker,
}

/// A CNN-DBLSTM line recognizer: backbone, DBLSTM, IP layer, softmax over alphabet + blank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrnnConfig {
    /// Backbone family.
    pub family: Family,
    /// The CNN layers, in order; must end with [`LayerSpec::Project`].
    pub layers: Vec<LayerSpec>,
    /// Input line height in pixels.
    pub height: usize,
    /// Hidden units per direction of each BLSTM layer.
    pub lstm_hidden: usize,
    /// Number of BLSTM layers.
    pub lstm_layers: usize,
    /// Output classes: alphabet size + 1 (blank).
    pub num_classes: usize,
}

/// Named model sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// VGG-DBLSTM teacher with the paper's sizes (8.26M params).
    TeacherPaper,
    /// DarkNet-DBLSTM student with the paper's sizes (1.47M params).
    StudentPaper,
    /// A teacher of the same shape that trains on a 2-core CPU in about an hour.
    TeacherCpu,
    /// The matching CPU student.
    StudentCpu,
    /// Minute teacher for tests.
    TeacherTiny,
    /// Minute student for tests.
    StudentTiny,
}

use LayerSpec::{Conv, Pool, Project};

const fn c3(out: usize) -> LayerSpec {
    Conv { kernel: 3, out }
}
const fn c1(out: usize) -> LayerSpec {
    Conv { kernel: 1, out }
}
const fn pool(h: usize, w: usize) -> LayerSpec {
    Pool { h, w }
}

/// VGG plan with channel widths `[a, b, c, d]` for its four stages.
pub fn vgg_plan(w: [usize; 4], feature_channels: usize) -> Vec<LayerSpec> {
    vec![
        c3(w[0]),
        c3(w[0]),
        pool(2, 2),
        c3(w[1]),
        c3(w[1]),
        pool(2, 2),
        c3(w[2]),
        c3(w[2]),
        c3(w[2]),
        pool(2, 1),
        c3(w[3]),
        c3(w[3]),
        c3(w[3]),
        Project {
            out: feature_channels,
        },
    ]
}

/// DarkNet plan with base width `b` (channels b, 2b, 4b, 8b, 16b): conv3x3 layers alternate
/// with conv1x1 bottlenecks; the last stage runs at a third of the height to stay cheap.
pub fn darknet_plan(b: usize, feature_channels: usize) -> Vec<LayerSpec> {
    vec![
        c3(b),
        pool(2, 2),
        c3(2 * b),
        pool(2, 2),
        c3(4 * b),
        c1(2 * b),
        c3(4 * b),
        pool(2, 1),
        c3(8 * b),
        c1(4 * b),
        c3(8 * b),
        pool(2, 1),
        c3(16 * b),
        c1(8 * b),
        c3(16 * b),
        Project {
            out: feature_channels,
        },
    ]
}

impl Preset {
    /// All presets, in table order.
    pub const ALL: [Preset; 6] = [
        Preset::TeacherPaper,
        Preset::StudentPaper,
        Preset::TeacherCpu,
        Preset::StudentCpu,
        Preset::TeacherTiny,
        Preset::StudentTiny,
    ];

    /// The preset's name as recipes and the command line write it (`teacher-cpu`).
    pub fn name(self) -> &'static str {
        match self {
            Preset::TeacherPaper => "teacher-paper",
            Preset::StudentPaper => "student-paper",
            Preset::TeacherCpu => "teacher-cpu",
            Preset::StudentCpu => "student-cpu",
            Preset::TeacherTiny => "teacher-tiny",
            Preset::StudentTiny => "student-tiny",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = Error;

    /// A preset by its [`Preset::name`].
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                Error::Invalid(format!(
                    "unknown preset {s:?} (expected one of {})",
                    names.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl CrnnConfig {
    /// The configuration of a preset for `num_classes` outputs.
    pub fn preset(preset: Preset, num_classes: usize) -> Self {
        let (family, layers, lstm_hidden) = match preset {
            // 40 px lines -> 5 rows x 16 channels = 80 features per frame.
            Preset::TeacherPaper => (Family::Vgg, vgg_plan([64, 128, 256, 512], 16), 128),
            // 40 px -> 2 rows x 40 channels = 80 features: same as the teacher.
            Preset::StudentPaper => (Family::Darknet, darknet_plan(16, 40), 128),
            Preset::TeacherCpu => (Family::Vgg, vgg_plan([16, 32, 64, 128], 16), 128),
            Preset::StudentCpu => (Family::Darknet, darknet_plan(8, 40), 128),
            Preset::TeacherTiny => (Family::Vgg, vgg_plan([8, 16, 16, 32], 8), 32),
            Preset::StudentTiny => (Family::Darknet, darknet_plan(4, 20), 32),
        };
        Self {
            family,
            layers,
            height: 40,
            lstm_hidden,
            lstm_layers: 2,
            num_classes,
        }
    }

    /// Checks the plan: positive sizes, kernels 1 or 3, a final projection, a height that
    /// survives the poolings.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.num_classes < 2 {
            return bad(format!(
                "num_classes must be at least 2, got {}",
                self.num_classes
            ));
        }
        if self.lstm_hidden == 0 || self.lstm_layers == 0 {
            return bad("lstm_hidden and lstm_layers must be positive".into());
        }
        if !matches!(self.layers.last(), Some(Project { .. })) {
            return bad("the layer plan must end with a project layer".into());
        }
        for l in &self.layers {
            match *l {
                Conv { kernel, out } if (kernel != 1 && kernel != 3) || out == 0 => {
                    return bad(format!("conv layers need kernel 1 or 3 and out > 0: {l:?}"));
                }
                Pool { h, w } if h == 0 || w == 0 => return bad(format!("bad pool {l:?}")),
                Project { out: 0 } => return bad("project out must be > 0".into()),
                LayerSpec::Tucker { r_in, r_out, out } if r_in == 0 || r_out == 0 || out == 0 => {
                    return bad(format!("bad tucker layer {l:?}"));
                }
                _ => {}
            }
        }
        if self.feature_height() == 0 {
            return bad(format!(
                "height {} is too small for the poolings",
                self.height
            ));
        }
        Ok(())
    }

    /// Horizontal downsampling: input pixels per output frame.
    pub fn stride(&self) -> usize {
        self.layers
            .iter()
            .map(|l| if let Pool { w, .. } = l { *w } else { 1 })
            .product()
    }

    /// Rows of the last feature map.
    pub fn feature_height(&self) -> usize {
        self.layers.iter().fold(self.height, |h, l| {
            if let Pool { h: ph, .. } = l {
                h / ph
            } else {
                h
            }
        })
    }

    /// Channels of the last feature map.
    pub fn feature_channels(&self) -> usize {
        self.layers
            .iter()
            .rev()
            .find_map(|l| match l {
                Conv { out, .. } | Project { out } | LayerSpec::Tucker { out, .. } => Some(*out),
                Pool { .. } => None,
            })
            .unwrap_or(1)
    }

    /// Dimension of one frame of the CNN output sequence (input of the first BLSTM).
    pub fn feature_dim(&self) -> usize {
        self.feature_channels() * self.feature_height()
    }

    /// Output frames for an input `width` (each pooling floors).
    pub fn frames(&self, width: usize) -> usize {
        self.layers.iter().fold(width, |w, l| {
            if let Pool { w: pw, .. } = l {
                w / pw
            } else {
                w
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn teacher_and_student_sequences_match() {
        for (t, s) in [
            (Preset::TeacherPaper, Preset::StudentPaper),
            (Preset::TeacherCpu, Preset::StudentCpu),
            (Preset::TeacherTiny, Preset::StudentTiny),
        ] {
            let t = CrnnConfig::preset(t, 10);
            let s = CrnnConfig::preset(s, 10);
            t.validate().unwrap();
            s.validate().unwrap();
            assert_eq!(t.feature_dim(), s.feature_dim());
            assert_eq!(t.stride(), s.stride());
            assert_eq!(t.frames(803), s.frames(803));
        }
        assert_eq!(
            CrnnConfig::preset(Preset::TeacherPaper, 10).feature_dim(),
            80
        );
    }

    #[test]
    fn invalid_plans_are_rejected() {
        let mut c = CrnnConfig::preset(Preset::TeacherTiny, 10);
        c.layers.pop();
        assert!(c.validate().is_err());
        let mut c = CrnnConfig::preset(Preset::TeacherTiny, 10);
        c.height = 4;
        assert!(c.validate().is_err());
    }

    #[test]
    fn preset_names_parse_back_and_match_the_recipes() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.name())
            );
        }
        let err = "teacher-gpu".parse::<Preset>().unwrap_err().to_string();
        assert!(
            err.contains("teacher-gpu") && err.contains("teacher-cpu"),
            "{err}"
        );
    }
}
