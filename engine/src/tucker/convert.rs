//! A trained VGG teacher (or a distilled DarkNet student) in, its Tucker-decomposed version out: each eligible 3x3 layer's
//! kernel is decomposed ([`super::hosvd`]) at the chosen ranks ([`super::ranks`]) into a
//! conv1x1 -> conv3x3 -> conv1x1 chain that keeps the layer's BatchNorm; the other layers, the
//! DBLSTM and the IP layer are copied. The first layer (one input channel) and any layer whose
//! chain would cost as much as the original stay as they are.

use super::hosvd::{Tucker2, decompose, mode_spectra};
use super::ranks::{RankSpec, per_pixel_cost, rank_of_energy, rank_of_ratio};
use crate::error::{Error, Result};
use crate::model_file::{LoadedModel, ModelHeader, Role};
use crate::models::backbone::Layer;
use crate::models::config::{CrnnConfig, Family, LayerSpec};
use crate::models::cost::summary;
use crate::models::crnn::Crnn;
use crate::models::values;
use burn::module::Param;
use burn::prelude::*;
use serde::Serialize;
use std::path::Path;

/// What happened to one 3x3 layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// Index in the layer plan.
    pub index: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Ranks `(r_in, r_out)` when decomposed.
    pub ranks: Option<(usize, usize)>,
    /// Relative reconstruction error of the kernel when decomposed.
    pub error: Option<f64>,
    /// Why it was kept, when it was.
    pub kept_because: Option<String>,
}

/// The decomposition of a whole model.
#[derive(Debug, Clone, Serialize)]
pub struct TuckerReport {
    /// Per 3x3 layer.
    pub layers: Vec<LayerReport>,
    /// Parameters before / after.
    pub params: (usize, usize),
    /// GFLOPs per 40x800 line before / after.
    pub gflops: (f64, f64),
}

impl TuckerReport {
    /// A readable table.
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| layer | conv3x3 | ranks (in, out) | kernel error | note |\n|---|---|---|---|---|\n",
        );
        for l in &self.layers {
            s.push_str(&format!(
                "| {} | {} -> {} | {} | {} | {} |\n",
                l.index,
                l.c_in,
                l.c_out,
                l.ranks.map_or("-".into(), |(a, b)| format!("{a}, {b}")),
                l.error.map_or("-".into(), |e| format!("{:.1}%", 100.0 * e)),
                l.kept_because.clone().unwrap_or_default()
            ));
        }
        s.push_str(&format!(
            "params {:.3}M -> {:.3}M (Cr {:.2}); GFLOPs per 40x800 line {:.3} -> {:.3} (Sr {:.2})\n",
            self.params.0 as f64 / 1e6,
            self.params.1 as f64 / 1e6,
            self.params.0 as f64 / self.params.1.max(1) as f64,
            self.gflops.0,
            self.gflops.1,
            self.gflops.0 / self.gflops.1.max(1e-12),
        ));
        s
    }
}

/// One 3x3 layer of the teacher: plan index, channels, kernel.
struct Conv3 {
    index: usize,
    c_in: usize,
    c_out: usize,
    kernel: Vec<f32>,
}

fn conv3_layers(model: &Crnn) -> Vec<Conv3> {
    model
        .cnn
        .layers
        .iter()
        .enumerate()
        .filter_map(|(index, l)| match l {
            Layer::Conv(b) => {
                let [c_out, c_in, k, _] = b.conv.weight.dims();
                (k == 3).then(|| Conv3 {
                    index,
                    c_in,
                    c_out,
                    kernel: values(b.conv.weight.val()),
                })
            }
            _ => None,
        })
        .collect()
}

/// Ranks `(r_in, r_out)` per eligible layer for a uniform `ratio` (None: kept), with reasons.
fn ranks_for(
    convs: &[Conv3],
    pick: impl Fn(&Conv3) -> (usize, usize),
) -> Vec<std::result::Result<(usize, usize), String>> {
    convs
        .iter()
        .map(|c| {
            if c.c_in == 1 {
                return Err("first layer (one input channel)".into());
            }
            let (r_in, r_out) = pick(c);
            let (full, chain) = per_pixel_cost(c.c_in, c.c_out, r_in, r_out);
            if chain >= full {
                Err(format!(
                    "the chain would cost {chain} >= {full} multiply-adds per pixel"
                ))
            } else {
                Ok((r_in, r_out))
            }
        })
        .collect()
}

/// GFLOPs per 40x800 line of the 3x3 layers Tucker may decompose (all but the first).
fn eligible_gflops(cfg: &CrnnConfig, convs: &[Conv3]) -> f64 {
    let (mut h, mut w) = (cfg.height, 800usize);
    let mut macs = 0.0;
    for (i, l) in cfg.layers.iter().enumerate() {
        match l {
            LayerSpec::Pool { h: ph, w: pw } => {
                h /= ph;
                w /= pw;
            }
            _ => {
                if let Some(c) = convs.iter().find(|c| c.index == i && c.c_in > 1) {
                    macs += (h * w * c.c_in * c.c_out * 9) as f64;
                }
            }
        }
    }
    macs / 1e9
}

/// The decomposed network's configuration.
fn plan_with(
    cfg: &CrnnConfig,
    convs: &[Conv3],
    ranks: &[std::result::Result<(usize, usize), String>],
) -> CrnnConfig {
    let mut out = cfg.clone();
    out.family = match cfg.family {
        Family::Darknet | Family::DarknetTucker => Family::DarknetTucker,
        Family::Vgg | Family::VggTucker => Family::VggTucker,
    };
    for (c, r) in convs.iter().zip(ranks) {
        if let Ok((r_in, r_out)) = r {
            out.layers[c.index] = LayerSpec::Tucker {
                r_in: *r_in,
                r_out: *r_out,
                out: c.c_out,
            };
        }
    }
    out
}

/// Decomposes a loaded VGG teacher; `path` only names it in errors.
pub fn decompose_model(
    teacher: &LoadedModel,
    path: &Path,
    spec: RankSpec,
    hooi: usize,
) -> Result<(Crnn, ModelHeader, TuckerReport)> {
    let ok = teacher.header.role == Role::Teacher && teacher.header.config.family == Family::Vgg;
    expect(
        ok,
        teacher,
        path,
        "Tucker decomposition expects a VGG teacher",
    )?;
    decompose_any(teacher, path, spec, hooi)
}

/// Decomposes the 3x3 layers of a distilled DarkNet student (the journal version of the paper
/// combines both compressions).
pub fn decompose_student(
    student: &LoadedModel,
    path: &Path,
    spec: RankSpec,
    hooi: usize,
) -> Result<(Crnn, ModelHeader, TuckerReport)> {
    let ok = student.header.config.family == Family::Darknet;
    expect(ok, student, path, "expected a DarkNet student")?;
    decompose_any(student, path, spec, hooi)
}

/// An error naming what the file is when `ok` is false.
fn expect(ok: bool, m: &LoadedModel, path: &Path, what: &str) -> Result<()> {
    if ok {
        return Ok(());
    }
    Err(Error::model(
        path,
        format!(
            "{what}; this file is a {:?} ({:?})",
            m.header.role, m.header.config.family
        ),
    ))
}

fn decompose_any(
    teacher: &LoadedModel,
    path: &Path,
    spec: RankSpec,
    hooi: usize,
) -> Result<(Crnn, ModelHeader, TuckerReport)> {
    let h = &teacher.header;
    let convs = conv3_layers(&teacher.model);
    let ranks = match spec {
        RankSpec::Ratio(r) => ranks_for(&convs, |c| {
            (rank_of_ratio(r, c.c_in), rank_of_ratio(r, c.c_out))
        }),
        RankSpec::Energy(e) => ranks_for(&convs, |c| {
            let (s_out, s_in) = mode_spectra(&c.kernel, c.c_out, c.c_in, 9);
            (rank_of_energy(e, &s_in), rank_of_energy(e, &s_out))
        }),
        RankSpec::Budget(b) => {
            // The budget is a fraction of what Tucker can act on: the GFLOPs of the 3x3
            // layers after the first (for the paper's teacher, 98.6% of the total; the DBLSTM,
            // the first layer and the projection are a fixed cost on top).
            let total = |cfg: &CrnnConfig| summary(cfg, 800).gflops;
            let decomposable: f64 = eligible_gflops(&h.config, &convs);
            let fixed = total(&h.config) - decomposable;
            let target = b * decomposable;
            let cost = |r: f64| {
                let ranks = ranks_for(&convs, |c| {
                    (rank_of_ratio(r, c.c_in), rank_of_ratio(r, c.c_out))
                });
                (total(&plan_with(&h.config, &convs, &ranks)) - fixed, ranks)
            };
            // The cost grows with the ratio: bisect for the largest ratio within the budget.
            let (mut lo, mut hi) = (0.0f64, 1.0f64);
            for _ in 0..30 {
                let mid = 0.5 * (lo + hi);
                if cost(mid).0 <= target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let (g, ranks) = cost(lo.max(1e-6));
            if g > target * 1.0001 {
                return Err(Error::Invalid(format!(
                    "no ranks fit a budget of {:.1}% of the decomposable GFLOPs (smallest: {:.1}%)",
                    100.0 * b,
                    100.0 * g / decomposable
                )));
            }
            ranks
        }
    };
    let new_cfg = plan_with(&h.config, &convs, &ranks);
    new_cfg.validate()?;
    let device = Device::flex();
    let mut model = new_cfg.init(&device);
    let mut report = Vec::new();
    let conv_at = |i: usize| convs.iter().position(|c| c.index == i);
    for (i, (old, new)) in teacher
        .model
        .cnn
        .layers
        .iter()
        .zip(model.cnn.layers.iter_mut())
        .enumerate()
    {
        match (old, new, conv_at(i)) {
            (Layer::Conv(b), Layer::Tucker(t), Some(ci)) => {
                let c = &convs[ci];
                let Ok((r_in, r_out)) = ranks[ci] else {
                    return Err(Error::Invalid("internal: ranks and plan disagree".into()));
                };
                let d: Tucker2 = decompose(&c.kernel, c.c_out, c.c_in, 9, r_out, r_in, hooi);
                let tensor = |v: Vec<f64>, shape: [usize; 4]| {
                    let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
                    Param::from_tensor(Tensor::<4>::from_data(TensorData::new(v, shape), &device))
                };
                // first: [r_in, c_in, 1, 1] = U_in^T; core: [r_out, r_in, 3, 3]; last: U_out.
                let mut u_in_t = vec![0.0f64; r_in * c.c_in];
                for ii in 0..c.c_in {
                    for bb in 0..r_in {
                        u_in_t[bb * c.c_in + ii] = d.u_in[ii * r_in + bb];
                    }
                }
                t.first.weight = tensor(u_in_t, [r_in, c.c_in, 1, 1]);
                t.core.weight = tensor(d.core.clone(), [r_out, r_in, 3, 3]);
                t.last.weight = tensor(d.u_out.clone(), [c.c_out, r_out, 1, 1]);
                t.norm = b.norm.clone();
                report.push(LayerReport {
                    index: i,
                    c_in: c.c_in,
                    c_out: c.c_out,
                    ranks: Some((r_in, r_out)),
                    error: Some(d.relative_error(&c.kernel)),
                    kept_because: None,
                });
            }
            (old, new, ci) => {
                *new = old.clone();
                if let Some(ci) = ci {
                    report.push(LayerReport {
                        index: i,
                        c_in: convs[ci].c_in,
                        c_out: convs[ci].c_out,
                        ranks: None,
                        error: None,
                        kept_because: ranks[ci].clone().err(),
                    });
                }
            }
        }
    }
    model.rnn = teacher.model.rnn.clone();
    model.ip = teacher.model.ip.clone();
    let header = ModelHeader {
        role: Role::Tucker,
        config: new_cfg.clone(),
        alphabet: h.alphabet.clone(),
        half: h.half,
        provenance: crate::model_file::Provenance {
            recipe: h.provenance.recipe.clone(),
            data: h.provenance.data.clone(),
            steps: h.provenance.steps,
            valid_cer: None,
            task: h.provenance.task,
            teacher: h.provenance.teacher.clone(),
            adapted: h.provenance.adapted.clone(),
            finetuned_by: h.provenance.finetuned_by.clone(),
            notes: format!(
                "Tucker-2 of {} ({spec:?}, {hooi} HOOI sweeps)",
                path.display()
            ),
        },
    };
    let report = TuckerReport {
        layers: report,
        params: (
            summary(&h.config, 800).params,
            summary(&new_cfg, 800).params,
        ),
        gflops: (
            summary(&h.config, 800).gflops,
            summary(&new_cfg, 800).gflops,
        ),
    };
    Ok((model, header, report))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::infer::FastRecognizer;
    use crate::models::config::Preset;

    fn teacher(preset: Preset) -> LoadedModel {
        let cfg = CrnnConfig::preset(preset, 9);
        let device = Device::flex().autodiff();
        let model = cfg.init_seeded(&device, 5);
        // Move BatchNorm statistics away from identity so that folding is exercised.
        let x = Tensor::<4>::random(
            [2, 1, 40, 48],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let _ = model.forward(x, Tensor::ones([2, cfg.frames(48)], &device));
        LoadedModel {
            header: ModelHeader {
                role: Role::Teacher,
                config: cfg,
                alphabet: crate::Alphabet::new("abcdefgh").unwrap(),
                half: false,
                provenance: Default::default(),
            },
            model: model.valid(),
        }
    }

    /// The fast path and Burn agree on a decomposed model.
    fn assert_fast_matches_burn(m: &Crnn, header: &ModelHeader) {
        let fast = FastRecognizer::new(m, header.clone()).unwrap();
        let ink = crate::data::image::normalize::InkLine {
            pixels: (0..40 * 64)
                .map(|i| ((i * 31) % 17) as f32 / 16.0)
                .collect(),
            width: 64,
            height: 40,
            scale: 1.0,
            crop_x: 0.0,
        };
        let batch = crate::data::batcher::make_batch(
            &[crate::data::batcher::PreparedLine {
                ink: ink.clone(),
                labels: vec![],
                text: String::new(),
                personal: false,
            }],
            &header.config,
            &Device::flex(),
        );
        let expected: Vec<f32> = m
            .forward(batch.images, batch.mask)
            .log_probs()
            .into_data()
            .try_into_vec()
            .unwrap();
        let diff = crate::kernels::max_abs_diff(&fast.log_probs(&ink), &expected);
        assert!(diff < 1e-4, "fast path vs Burn on a Tucker model: {diff}");
    }

    #[test]
    fn full_ranks_reproduce_the_teacher_and_costs_are_exact() {
        let t = teacher(Preset::TeacherTiny);
        let path = Path::new("teacher.inkm");
        let (m, header, report) = decompose_model(&t, path, RankSpec::Ratio(1.0), 0).unwrap();
        // At full ranks every chain costs more than the conv: all kept except... none decomposed.
        assert!(report.layers.iter().all(|l| l.ranks.is_none()));
        // With half ranks the middle layers are decomposed; the first never is.
        let (m2, header2, report2) = decompose_model(&t, path, RankSpec::Ratio(0.5), 2).unwrap();
        assert!(
            report2.layers[0]
                .kept_because
                .as_deref()
                .unwrap()
                .contains("first layer")
        );
        assert!(report2.layers.iter().skip(1).any(|l| l.ranks.is_some()));
        assert_eq!(report2.params.1, summary(&header2.config, 800).params);
        let _ = (m, header);
        assert_fast_matches_burn(&m2, &header2);
    }

    #[test]
    fn a_distilled_student_decomposes_too() {
        let mut s = teacher(Preset::StudentCpu);
        s.header.role = Role::Student;
        let (m, header, report) =
            decompose_student(&s, Path::new("s.inkm"), RankSpec::Ratio(0.25), 1).unwrap();
        assert_eq!(header.config.family, Family::DarknetTucker);
        assert!(report.layers.iter().any(|l| l.ranks.is_some()));
        assert!(report.params.1 < report.params.0);
        assert_fast_matches_burn(&m, &header);
        // A teacher is not a student.
        let t = teacher(Preset::TeacherTiny);
        assert!(decompose_student(&t, Path::new("t.inkm"), RankSpec::Ratio(0.5), 0).is_err());
    }

    #[test]
    fn a_student_is_refused() {
        let mut t = teacher(Preset::StudentTiny);
        t.header.role = Role::Student;
        let e = decompose_model(&t, Path::new("s.inkm"), RankSpec::Ratio(0.5), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expects a VGG teacher"), "{e}");
    }
}
