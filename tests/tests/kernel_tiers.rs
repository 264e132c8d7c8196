//! Every kernel tier this CPU has (`engine::kernels::tier`) reads a line as the portable tier
//! does: the cpu presets' networks, converted and run under each forced tier, give the same
//! log-probabilities. One test in its own process, since the forced tier is process-wide.

#![allow(clippy::unwrap_used)]

use engine::bench::lines::reference_line;
use engine::burn::prelude::*;
use engine::infer::FastRecognizer;
use engine::kernels::max_abs_diff;
use engine::kernels::tier::{self, Tier};
use engine::model_file::{ModelHeader, Provenance, Role};
use engine::models::config::{CrnnConfig, Preset};

#[test]
fn every_tier_reads_as_the_portable_one() {
    let device = Device::flex();
    let line = reference_line(40, 300);
    for preset in [Preset::TeacherCpu, Preset::StudentCpu] {
        let cfg = CrnnConfig::preset(preset, engine::Alphabet::default().num_classes());
        let model = cfg.init_seeded(&device, 7);
        let run = |t: Tier| {
            tier::force(Some(t)).unwrap();
            assert_eq!(tier::current(), t);
            let header = ModelHeader {
                role: Role::Teacher,
                config: cfg.clone(),
                alphabet: engine::Alphabet::default(),
                half: false,
                provenance: Provenance::default(),
            };
            let mut rec = FastRecognizer::new(&model, header).unwrap();
            // Half-precision weights, as model files store them: the f16 recurrence of the
            // wider tiers then holds the same weights as the portable f32 one.
            rec.model.round_to_half();
            rec.log_probs(&line)
        };
        let portable = run(Tier::Portable);
        assert!(portable.iter().all(|v| v.is_finite()));
        for t in Tier::available() {
            let got = run(t);
            assert_eq!(got.len(), portable.len(), "{preset:?} on {t}");
            let diff = max_abs_diff(&got, &portable);
            assert!(diff < 2e-3, "{preset:?} on {t}: max abs diff {diff}");
        }
    }
    tier::force(None).unwrap();
    // A tier the CPU lacks is refused with its reason.
    if tier::detected() < Tier::Avx512 {
        assert!(
            tier::force(Some(Tier::Avx512))
                .unwrap_err()
                .contains("not available")
        );
    }
}
