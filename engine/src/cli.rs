//! The command line: one subcommand per job, each a thin call into the engine.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};
use engine::data::synth::fonts::FontSplit;
use engine::losses::distill::CriterionKind;
use engine::models::config::Preset;
use engine::scale::DeviceChoice;
use engine::task::Task;
use std::path::PathBuf;

/// Inkling: handwriting and printed-text line recognition with compact CNN-DBLSTM models
/// distilled from a large teacher.
#[derive(Debug, Parser)]
#[command(name = "engine", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Scale-out options of `train`, `distill` and `finetune` (see `engine::scale`).
#[derive(Debug, Clone, clap::Args)]
pub struct ScaleArgs {
    /// Workers on this machine (threads, one model replica each). With more than one, or with
    /// --strategy, workers train together: each takes 1/N of every batch of the recipe, so N
    /// workers make the recipe's updates on its lines in less time.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Every worker takes the recipe's whole batch, so N workers see N times the lines per
    /// step (BMUF as Chen and Huo ran it).
    #[arg(long)]
    pub batch_per_worker: bool,
    /// How workers combine: ddp (gradients averaged at every step) or bmuf (models averaged
    /// every --sync-every steps, with block momentum). Default: ddp when there are several
    /// workers (with a split batch it makes exactly one worker's updates), bmuf with
    /// --batch-per-worker.
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// BMUF: local steps per block (tau; default 2, or 8 with --batch-per-worker).
    #[arg(long)]
    pub sync_every: Option<usize>,
    /// BMUF: block momentum eta (default 0; 1 - 1/N for N workers in all with
    /// --batch-per-worker).
    #[arg(long)]
    pub block_momentum: Option<f64>,
    /// BMUF: block learning rate zeta.
    #[arg(long, default_value_t = 1.0)]
    pub block_lr: f64,
    /// BMUF: Nesterov-style block momentum.
    #[arg(long)]
    pub nesterov: bool,
    /// Machines in the run. Start one `engine` per machine with the same arguments and its own
    /// --node-rank; node 0 hosts the coordinator and writes the run folder.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// This machine's rank (0..nodes).
    #[arg(long, default_value_t = 0)]
    pub node_rank: usize,
    /// HOST:PORT of node 0 (node 0 listens on that port on all interfaces).
    #[arg(long)]
    pub coordinator: Option<String>,
    /// Seconds to wait for the coordinator.
    #[arg(long, default_value_t = 60)]
    pub connect_timeout: u64,
    /// Training device: cpu (Flex), wgpu (needs the `gpu` feature) or cuda (the `cuda` feature).
    #[arg(long, value_parser = one_of::<DeviceChoice>(), default_value = "cpu")]
    pub device: DeviceChoice,
}

/// Values of `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Blockwise model-update filtering.
    Bmuf,
    /// Synchronous gradient averaging.
    Ddp,
}

impl ScaleArgs {
    /// The scale-out configuration these options describe.
    pub fn config(&self) -> engine::scale::ScaleConfig {
        use engine::scale::{BmufConfig, ScaleConfig, Strategy};
        // Measured on the scale-out comparison (training/README.md): with a split batch,
        // blocks of 2 steps keep up with one worker, blocks of 8 fall behind.
        let default_tau = if self.batch_per_worker { 8 } else { 2 };
        let bmuf = Strategy::Bmuf(BmufConfig {
            sync_every: self.sync_every.unwrap_or(default_tau),
            block_momentum: self.block_momentum,
            block_lr: self.block_lr,
            nesterov: self.nesterov,
        });
        let strategy = match self.strategy {
            Some(StrategyArg::Ddp) => Some(Strategy::Ddp),
            Some(StrategyArg::Bmuf) => Some(bmuf),
            None if (self.workers > 1 || self.nodes > 1) && self.batch_per_worker => Some(bmuf),
            None if self.workers > 1 || self.nodes > 1 => Some(Strategy::Ddp),
            None => None,
        };
        ScaleConfig {
            workers: self.workers,
            strategy,
            nodes: self.nodes,
            node_rank: self.node_rank,
            coordinator: self.coordinator.clone(),
            connect_timeout_s: self.connect_timeout,
            device: self.device,
            batch_per_worker: self.batch_per_worker,
        }
    }
}

/// The model of `recognize` and `eval`: a file, or one of the shipped models
/// (`assets/models/`).
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArg {
    /// Model file (.inkm). Without it, the shipped model of --task (the student unless
    /// --teacher; the teacher when no student of the task ships).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Without --model: handwriting (hwr) or printed text (ocr).
    #[arg(long, value_parser = one_of::<Task>(), default_value = "hwr", conflicts_with = "model")]
    pub task: Task,
    /// Without --model: the shipped teacher (more accurate, slower) instead of the student.
    #[arg(long, conflicts_with = "model")]
    pub teacher: bool,
}

impl ModelArg {
    /// The model file: the one named, or the shipped one (an error names what ships).
    pub fn path(&self) -> engine::Result<PathBuf> {
        match &self.model {
            Some(p) => Ok(p.clone()),
            None if self.teacher => {
                engine::shipped::find(self.task, engine::model_file::Role::Teacher)
            }
            // A task whose student does not ship (yet) falls back to its teacher, with a note.
            None => engine::shipped::find(self.task, engine::model_file::Role::Student).or_else(
                |missing| {
                    let teacher =
                        engine::shipped::find(self.task, engine::model_file::Role::Teacher)
                            .map_err(|_| missing)?;
                    eprintln!(
                        "note: no shipped {} student; using the teacher {}",
                        self.task.name(),
                        teacher.display()
                    );
                    Ok(teacher)
                },
            ),
        }
    }
}

/// Labeled lines to score on (`eval`, `bench-decode`).
#[derive(Debug, Clone, clap::Args)]
pub struct LabeledLines {
    /// Dataset: a folder of NAME.png + NAME.gt.txt, a TSV list, IAM lines.txt, or PAGE-XML.
    #[arg(long)]
    pub data: PathBuf,
    /// Use at most this many lines.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// How `recognize` and `eval` decode.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeArgs {
    /// How to decode: greedy (best path) or beam (prefix beam search, optional LM).
    #[arg(long, value_enum, default_value_t)]
    pub decoder: DecoderArg,
    /// Beam width.
    #[arg(long, default_value_t = 16)]
    pub beam: usize,
    /// Character language model (from `engine lm`), for --decoder beam; `shipped` names the
    /// one in assets/models (english.lm.gz).
    #[arg(long)]
    pub lm: Option<PathBuf>,
    /// Weight of the LM's log-probability [default: 0.2 for handwriting models, 0.05 for
    /// printed-text ones (by the model's training data), each tuned on validation lines]
    #[arg(long)]
    pub lm_weight: Option<f64>,
    /// Score added per word started.
    #[arg(long, default_value_t = 0.0)]
    pub word_bonus: f64,
    /// A word list (one per line): only these words may be output.
    #[arg(long)]
    pub lexicon: Option<PathBuf>,
    /// Alternatives reported in JSON (beam search).
    #[arg(long, default_value_t = 5)]
    pub nbest: usize,
    /// Beam search without its pruning (every character above e^-12 tried on every frame):
    /// slower, for comparison.
    #[arg(long)]
    pub exact_beam: bool,
    /// Run the DBLSTM's recurrence on int8 weights (AVX-512 VNNI): faster, and no longer
    /// equal to the f32 model (see `engine/src/kernels/lstm_int8.rs`).
    #[arg(long)]
    pub int8_lstm: bool,
}

impl DecodeArgs {
    /// The decoder these options describe for the model file `model` (loading the LM and
    /// the lexicon; the LM weight defaults by the model's task).
    pub fn decoder(&self, model: &std::path::Path) -> engine::Result<engine::infer::Decoder> {
        use engine::decode::beam::{BeamConfig, Lexicon};
        use engine::error::Error;
        use std::sync::Arc;
        match self.decoder {
            DecoderArg::Greedy => {
                if self.lm.is_some() || self.lexicon.is_some() {
                    return Err(Error::Invalid(
                        "--lm and --lexicon need --decoder beam".into(),
                    ));
                }
                Ok(engine::infer::Decoder::Greedy)
            }
            DecoderArg::Beam => Ok(engine::infer::Decoder::Beam {
                config: BeamConfig {
                    width: self.beam,
                    lm_weight: match self.lm_weight {
                        Some(w) => w,
                        None => {
                            engine::lm::default_weight(&engine::model_file::read_header(model)?)
                        }
                    },
                    word_bonus: self.word_bonus,
                    nbest: self.nbest,
                    pruning: if self.exact_beam {
                        engine::decode::beam::Pruning::NONE
                    } else {
                        engine::decode::beam::Pruning::default()
                    },
                },
                lm: self
                    .lm
                    .as_deref()
                    .map(|p| {
                        engine::lm::CharLm::load(&engine::shipped::resolve_lm(p)).map(Arc::new)
                    })
                    .transpose()?,
                lexicon: self
                    .lexicon
                    .as_deref()
                    .map(|p| {
                        std::fs::read_to_string(p)
                            .map(|t| Arc::new(Lexicon::new(t.lines())))
                            .map_err(|e| Error::io(p, e))
                    })
                    .transpose()?,
            }),
        }
    }
}

/// Decoders of `recognize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DecoderArg {
    /// Best path.
    #[default]
    Greedy,
    /// CTC prefix beam search.
    Beam,
}

/// Output formats of `recognize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `path<TAB>text` per image.
    #[default]
    Text,
    /// One JSON array of all results.
    Json,
    /// One JSON object per line: path, text, confidence, chars, ms (or path, error).
    Jsonl,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from scratch with CTC, as a recipe describes.
    Train {
        /// The recipe (JSON); may be omitted with --resume (the run's own copy is used).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run folder (checkpoints, metrics.csv, model files).
        #[arg(long)]
        out: PathBuf,
        /// Continue the run in --out from its last checkpoint.
        #[arg(long)]
        resume: bool,
        /// Workers, machines and device.
        #[command(flatten)]
        scale: ScaleArgs,
    },
    /// Distill a compact student from a trained teacher, then fine-tune it with CTC.
    ///
    /// Only the student's CNN learns during distillation; its DBLSTM and IP layers are the
    /// teacher's, kept fixed. Distillation needs no labels (the teacher provides the targets);
    /// fine-tuning does.
    Distill {
        /// The recipe (JSON); may be omitted with --resume.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run folder.
        #[arg(long)]
        out: PathBuf,
        /// Teacher model file (overrides the recipe's).
        #[arg(long)]
        teacher: Option<PathBuf>,
        /// Criterion (overrides the recipe's).
        #[arg(long, value_parser = one_of::<CriterionKind>())]
        criterion: Option<CriterionKind>,
        /// Softmax temperature for softmax-ce.
        #[arg(long, default_value_t = 1.0)]
        temperature: f64,
        /// Continue the run in --out from its last checkpoint.
        #[arg(long)]
        resume: bool,
        /// Workers, machines and device.
        #[command(flatten)]
        scale: ScaleArgs,
    },
    /// Fine-tune a model file with CTC on labeled lines (every layer trainable).
    Finetune {
        /// The model to fine-tune.
        #[arg(long)]
        model: PathBuf,
        /// The recipe (data, optimizer, schedule); may be omitted with --resume.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run folder.
        #[arg(long)]
        out: PathBuf,
        /// Continue the run in --out from its last checkpoint.
        #[arg(long)]
        resume: bool,
        /// Workers, machines and device.
        #[command(flatten)]
        scale: ScaleArgs,
    },
    /// Adapt a model to one writer: fine-tune it on their kept lines (a folder of NAME.png +
    /// NAME.gt.txt pairs with the ink beside as NAME.inkml, as the app keeps them, or NAME.inkml
    /// files with their text inside), three quarters of each batch replaying the model's own training
    /// mix; then read the held-back lines with the base and the adapted model
    Adapt {
        /// Which model to adapt.
        #[command(flatten)]
        model: ModelArg,
        /// The personal folder.
        #[arg(long)]
        data: PathBuf,
        /// The adapted model file to write.
        #[arg(long)]
        out: PathBuf,
        /// Run folder (checkpoints, metrics) [default: runs/adapt-<stem of --out>].
        #[arg(long)]
        run: Option<PathBuf>,
        /// Personal lines held back for the before/after scores, spread over the lines sorted
        /// by name [default: a fifth; none below 5 lines].
        #[arg(long)]
        holdout: Option<usize>,
        /// Optimizer steps.
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Lines per step.
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        /// Peak learning rate.
        #[arg(long, default_value_t = 3e-4)]
        lr: f64,
        /// Share of personal lines per batch [default: 0.25; 1 with --replay none].
        #[arg(long)]
        share: Option<f64>,
        /// Share of those personal lines that are new lines composed of the writer's words
        /// (cut from their kept ink lines where the gaps are clear).
        #[arg(long)]
        recompose: Option<f64>,
        /// How much the writer's ink is varied in slant, width, rotation, baseline and shape,
        /// as a factor of the training data's variation [default: 1].
        #[arg(long)]
        style_jitter: Option<f64>,
        /// The replayed base data: `auto` (the training source of the model's last recipe),
        /// `none` (personal lines only), or a recipe file whose `data.train.synth` to replay.
        #[arg(long, default_value = "auto")]
        replay: String,
        /// Data order seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Which layers learn: `all`, or `top` (the CNN's last two convolutions and the IP
        /// layer; the rest of the CNN and the DBLSTM keep their weights).
        #[arg(long, value_parser = one_of::<engine::train::finetune::Trainable>(), default_value = "all")]
        trainable: engine::train::finetune::Trainable,
        /// A reference model's soft targets next to CTC on the replayed lines: `base` (the model
        /// being adapted, as it was: it anchors what the model reads for other writers), `none`,
        /// or a model file (e.g. the shipped teacher). Nothing to anchor with `--replay none`.
        #[arg(long, default_value = "base")]
        soft_targets: String,
        /// Weight of the soft targets' KL term next to CTC.
        #[arg(long, default_value_t = engine::train::adapt::SOFT_WEIGHT)]
        soft_weight: f64,
        /// Continue the run from its last checkpoint (with the settings it started with).
        #[arg(long)]
        resume: bool,
        /// Decoding of the before/after scores.
        #[command(flatten)]
        decoding: DecodeArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reproduce a table of the paper.
    Experiment {
        /// Which experiment.
        #[command(subcommand)]
        which: ExperimentCommand,
    },
    /// Recognize line images (with no --model: the shipped student of --task).
    Recognize {
        /// Which model.
        #[command(flatten)]
        model: ModelArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
        /// Worker threads, each recognizing one image at a time (1 = the latency setting).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Split each image into text lines first (projection profile; one row per line, with
        /// its index and box). For photos of whiteboards and notes with several lines.
        #[arg(long)]
        split_lines: bool,
        /// Decoding.
        #[command(flatten)]
        decoding: DecodeArgs,
        /// Line images (PNG, JPEG, ...).
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Score a model on a labeled dataset: CER, WER and the worst lines.
    Eval {
        /// Which model.
        #[command(flatten)]
        model: ModelArg,
        /// The labeled lines.
        #[command(flatten)]
        lines: LabeledLines,
        /// How many of the worst lines to print.
        #[arg(long, default_value_t = 10)]
        worst: usize,
        /// Worker threads (one line each at a time).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Decoding.
        #[command(flatten)]
        decoding: DecodeArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What each decoder (greedy; beam search at several widths, pruned and exact) reads and
    /// costs next to the network, line by line on labeled lines, one thread: CER, and the
    /// median per-line decoder / network time ratio with its bootstrap 95% interval.
    BenchDecode {
        /// Which model.
        #[command(flatten)]
        model: ModelArg,
        /// The labeled lines.
        #[command(flatten)]
        lines: LabeledLines,
        /// Beam widths.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 4, 8, 16, 32])]
        widths: Vec<usize>,
        /// Character LM for the beam search (`shipped`: assets/models/english.lm.gz).
        #[arg(long)]
        lm: Option<PathBuf>,
        /// LM weight [default: by the model's task, as `recognize`].
        #[arg(long)]
        lm_weight: Option<f64>,
        /// Pruning settings to try at each width: `default`, `exact` (none), or changes to
        /// the default as key=value pairs (blank_skip, top_k, cum_prob, token_rel, beam_rel;
        /// see engine/src/decode/beam.rs). Repeat the flag for several.
        #[arg(long, default_values = ["default"])]
        prune: Vec<engine::decode::beam::Pruning>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The whole path a user waits for, image file to text, for several models taking turns
    /// image by image, one thread: median ms per image and each model's speed-up over the
    /// first, with bootstrap 95% intervals (warm caches, and cold).
    BenchE2e {
        /// Model files, comma-separated; the first is the reference (e.g. the teacher).
        #[arg(long, value_delimiter = ',', required = true)]
        models: Vec<PathBuf>,
        /// A folder of line images.
        #[arg(long)]
        images: PathBuf,
        /// Use at most this many images.
        #[arg(long)]
        limit: Option<usize>,
        /// Decoding (the same for every model; the LM weight defaults by each model's task).
        #[command(flatten)]
        decoding: DecodeArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where a CTC training step's time goes, per part (data, CNN, DBLSTM, CTC, backward,
    /// optimizer), with padding and each part's share of this core's fp32 peak. Run it with
    /// RAYON_NUM_THREADS=1 for the one-thread rate.
    BenchTrain {
        /// Presets to profile.
        #[arg(long, value_parser = one_of::<Preset>(), value_delimiter = ',', default_values = ["teacher-cpu", "student-cpu"])]
        presets: Vec<Preset>,
        /// Lines per step.
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        /// Timed steps (after one untimed warm-up step).
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Which layer operations to time, in this order: Burn's, ours (the default in
        /// training), or both for the ratio.
        #[arg(long, value_enum, value_delimiter = ',', default_values = ["burn", "ours"])]
        ops: Vec<TrainOps>,
        /// Also time the step (our operations) on this many threads against one thread,
        /// taking turns batch by batch: the speed-up's median with its 95% interval.
        #[arg(long)]
        scaling: Option<usize>,
    },
    /// Look into and export datasets of pen writing (UNIPEN).
    Data {
        /// What to do.
        #[command(subcommand)]
        which: DataCommand,
    },
    /// Write synthetic lines as NAME.png + NAME.gt.txt pairs.
    Synth {
        /// Handwriting or printed text.
        #[arg(long, value_parser = one_of::<Task>(), default_value = "hwr")]
        task: Task,
        /// Number of lines.
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Seed (line i depends only on seed and i).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Fonts to use: train, valid (held-out fonts) or all.
        #[arg(long, value_enum, default_value = "train")]
        split: SplitArg,
        /// The held-out fonts (file stems, comma-separated); default: those every shipped
        /// recipe of the task holds out, so that `--split valid` lines are in fonts the shipped
        /// models never saw.
        #[arg(long, value_delimiter = ',')]
        holdout: Vec<String>,
        /// Folder of fonts (default `assets/fonts/<task>`).
        #[arg(long)]
        fonts: Option<PathBuf>,
        /// Longest line in characters.
        #[arg(long, default_value_t = 40)]
        max_chars: usize,
        /// Share of lines made of real handwritten digits (MNIST, first halves), 0 to 1.
        #[arg(long, default_value_t = 0.0)]
        digits: f64,
        /// Folder of digit samples (default assets/digits; for evaluation sets, the reserved
        /// halves written by `training/tools/fetch_digits.py --eval DIR`).
        #[arg(long)]
        digit_bank: Option<PathBuf>,
        /// Share of lines written with single-stroke fonts (pen strokes of uniform width, like
        /// the app's canvas), 0 to 1; --split picks the training or held-out stroke fonts.
        #[arg(long, default_value_t = 0.0)]
        strokes: f64,
        /// Write the lines of a recipe's synthetic source instead (its `data.train`, or its
        /// `data.valid` with --valid): what a run trains or validates on. The other options
        /// but --count and --out are ignored.
        #[arg(long)]
        recipe: Option<PathBuf>,
        /// With --recipe: the validation source.
        #[arg(long, requires = "recipe")]
        valid: bool,
    },
    /// Latency per line on one core over a fixed set of synthetic lines (fast path, Burn's CPU
    /// backend and ONNX Runtime on the same network), parameters and GFLOPs, the convolutions'
    /// share of the measured fp32 peak, and the per-layer-type table; ratios against the first
    /// model (the teacher).
    Bench {
        /// Presets to compare (first = reference); ignored when --models is given.
        #[arg(long, value_parser = one_of::<Preset>(), value_delimiter = ',', default_values = ["teacher-paper", "student-paper", "teacher-cpu", "student-cpu"])]
        presets: Vec<Preset>,
        /// Trained model files to compare instead of presets (first = reference).
        #[arg(long, value_delimiter = ',')]
        models: Vec<PathBuf>,
        /// Reference line width for the GFLOPs column (height 40, as the paper).
        #[arg(long, default_value_t = 800)]
        width: usize,
        /// Lines in the bench set.
        #[arg(long, default_value_t = 8)]
        lines: usize,
        /// Timed passes over the bench set (after one warm-up pass).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Skip Burn's own backend (slow).
        #[arg(long)]
        no_burn: bool,
        /// Skip the ONNX Runtime peer.
        #[arg(long)]
        no_onnx: bool,
        /// Run the fast path's DBLSTM recurrence on int8 weights (AVX-512 VNNI).
        #[arg(long)]
        int8_lstm: bool,
        /// Run every convolution directly (no Winograd F(2x2, 3x3) on the 3x3 layers with 64 or
        /// more input channels), to see what Winograd brings.
        #[arg(long)]
        no_winograd: bool,
        /// Kernel tiers to bench in turn, each with its own measured peak (avx512, avx2,
        /// portable; `all`: every tier this CPU has) [default: the current tier, see
        /// INKLING_KERNELS]
        #[arg(long, value_delimiter = ',')]
        tiers: Vec<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Tucker-2 decompose a VGG teacher's 3x3 convolutions (the paper's compression baseline);
    /// fine-tune the result with `engine finetune --model OUT`.
    Tucker {
        /// The teacher model file.
        #[arg(long)]
        model: PathBuf,
        /// Ranks: v1, v2, v3 (most to least compressed), ratio:R, energy:E or budget:B
        /// (fraction of the teacher's GFLOPs).
        #[arg(long)]
        ranks: String,
        /// HOOI refinement sweeps after the HOSVD.
        #[arg(long, default_value_t = 2)]
        hooi: usize,
        /// Where to write the decomposed model.
        #[arg(long)]
        out: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a trained model's CNN wider without changing what it reads (Net2Net): every conv
    /// layer gets FACTOR times the channels, copies of the trained ones; fine-tune the result
    /// with `engine finetune --model OUT` to use the new capacity.
    Widen {
        /// The model file to widen.
        #[arg(long)]
        model: PathBuf,
        /// How many times wider each conv layer becomes (1-16; the output projection, the DBLSTM
        /// and the IP layer keep their sizes).
        #[arg(long, default_value_t = 2.0)]
        factor: f64,
        /// Seed of the copies' random weight shares.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the widened model.
        #[arg(long)]
        out: PathBuf,
    },
    /// Train a character n-gram language model for beam search.
    Lm {
        /// Text files, one line of text per line.
        #[arg(long, required = true, num_args = 1..)]
        corpus: Vec<PathBuf>,
        /// n of the n-gram.
        #[arg(long, default_value_t = 5)]
        order: usize,
        /// Forget the histories seen fewer times than this (1 keeps all; 2-3 make a high
        /// order's file several times smaller).
        #[arg(long, default_value_t = 1)]
        min_count: u64,
        /// A model file whose alphabet to use (default: Inkling's alphabet).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Where to write the LM (JSON; gzip-compressed when the name ends in `.gz`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Export a model file to ONNX (opset 17; BatchNorm folded; input `image [1, 1, 40, W]`
    /// with W a multiple of the model's stride, output `log_probs [frames, 1, classes]`).
    Export {
        /// Model file (.inkm).
        #[arg(long)]
        model: PathBuf,
        /// Where to write the ONNX file.
        #[arg(long)]
        onnx: PathBuf,
    },
    /// Print parameters and GFLOPs of presets, or the header of a model file.
    Info {
        /// A model file to describe.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Line width in pixels for the GFLOPs column.
        #[arg(long, default_value_t = 800)]
        width: usize,
    },
    /// Rewrite model files of format 1 (before the checksum) in the current format, header and
    /// weights unchanged; files already current are checked and left alone.
    Migrate {
        /// Model files (.inkm).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Dataset jobs.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Counts of a UNIPEN distribution per category and contributor (segments, writers), and
    /// what was skipped, why.
    Stats {
        /// The distribution (holding data/ and include/), e.g. data/unipen/train_r01_v07.
        dir: PathBuf,
        /// Only these categories (1a, 1b, ..., 8; comma-separated).
        #[arg(long, value_delimiter = ',')]
        categories: Vec<String>,
        /// Only these contributors (comma-separated).
        #[arg(long, value_delimiter = ',')]
        contributors: Vec<String>,
        /// Also list this many skipped segments with file, line and reason.
        #[arg(long, default_value_t = 0)]
        show_skipped: usize,
    },
    /// Write one folder per writer of some contributors (a simulated user for `engine adapt`):
    /// their single text lines, then their words laid out three to a line
    Writers {
        /// The distribution (holding data/ and include/).
        dir: PathBuf,
        /// The contributors (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        contributors: Vec<String>,
        /// Only writers with at least this many lines (real and laid out).
        #[arg(long, default_value_t = 25)]
        min_lines: usize,
        /// Output folder (one subfolder per writer).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the single text lines of whole contributors as NAME.png + NAME.gt.txt +
    /// NAME.inkml (an evaluation set of writers a model never saw).
    Export {
        /// The distribution (holding data/ and include/).
        dir: PathBuf,
        /// The contributors (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        contributors: Vec<String>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The experiments.
#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Scratch student, one distilled + fine-tuned student per criterion, results and
    /// analysis tables (resumable: run the same command again after an interruption).
    Distill {
        /// The experiment recipe (JSON).
        #[arg(long)]
        config: PathBuf,
        /// Experiment folder (one sub-folder per run, results.md/csv, analysis.md/csv).
        #[arg(long)]
        out: PathBuf,
        /// Train only this run ("scratch", or a criterion's folder name such as "cnn-mah")
        /// and stop, without the tables. Two runs can train at once in two processes; the
        /// command without --only then finds them finished and only evaluates.
        #[arg(long, value_name = "RUN")]
        only: Option<String>,
    },
    /// Tucker v1/v2/v3 decomposed from the teacher and fine-tuned, against the teacher and a
    /// distilled student: the paper's comparison table (resumable).
    Tucker {
        /// The experiment recipe (JSON).
        #[arg(long)]
        config: PathBuf,
        /// Experiment folder (one sub-folder per variant, tucker.md/csv).
        #[arg(long)]
        out: PathBuf,
    },
    /// Scale-out compared on curves: finished training runs (the first one the single-worker
    /// reference), their time to the reference's final validation CER (validation excluded)
    /// and the speed-up over it, as JSON, a Markdown table and a PNG plot.
    Scale {
        /// An arm as NAME=RUN_FOLDER (repeat; the first is the reference).
        #[arg(long = "run", value_name = "NAME=DIR", required = true)]
        runs: Vec<String>,
        /// The comparison as JSON (the table goes beside it as .md).
        #[arg(long)]
        json: PathBuf,
        /// The plot (PNG).
        #[arg(long)]
        plot: Option<PathBuf>,
    },
}

/// Font split as a CLI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Training fonts.
    Train,
    /// Held-out validation fonts.
    Valid,
    /// All fonts.
    All,
}

impl From<SplitArg> for FontSplit {
    fn from(s: SplitArg) -> Self {
        match s {
            SplitArg::Train => FontSplit::Train,
            SplitArg::Valid => FontSplit::Valid,
            SplitArg::All => FontSplit::All,
        }
    }
}

/// The layer operations a training step runs on (`engine bench-train --ops`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainOps {
    /// Burn's own operations (the reference; `INKLING_TRAIN_OPS=burn` in training).
    Burn,
    /// Ours, on the CPU kernels (the default).
    Ours,
}

/// A library enum the command line names by a fixed list of words (the library has no clap).
pub trait Named: Copy + Send + Sync + 'static {
    /// Every value.
    const ALL: &'static [Self];
    /// Its word on the command line.
    fn word(self) -> &'static str;
}

impl Named for Task {
    const ALL: &'static [Self] = &Task::ALL;
    fn word(self) -> &'static str {
        self.name()
    }
}

impl Named for Preset {
    const ALL: &'static [Self] = &Preset::ALL;
    fn word(self) -> &'static str {
        self.name()
    }
}

impl Named for CriterionKind {
    const ALL: &'static [Self] = &CriterionKind::ALL;
    fn word(self) -> &'static str {
        self.name()
    }
}

impl Named for engine::train::finetune::Trainable {
    const ALL: &'static [Self] = &engine::train::finetune::Trainable::ALL;
    fn word(self) -> &'static str {
        self.name()
    }
}

impl Named for DeviceChoice {
    const ALL: &'static [Self] = &DeviceChoice::ALL;
    fn word(self) -> &'static str {
        self.name()
    }
}

/// Parses one of `T`'s words; `--help` lists them and anything else is refused by clap.
fn one_of<T: Named>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(T::ALL.iter().map(|t| t.word())).map(|word| {
        T::ALL
            .iter()
            .copied()
            .find(|t| t.word() == word)
            .unwrap_or(T::ALL[0])
    })
}
