//! The synthetic line generator: random text, rendered with a random font of the task's
//! collection, distorted and "photographed". Sample `i` of a generator is a pure function of
//! its seed and `i`, so runs and resumed runs see the same data.

pub mod augment;
pub mod digits;
pub mod fonts;
pub mod fontsource;
pub mod render;
pub mod strokes;

use crate::assets::assets_dir;
use crate::data::dataset::{LineImage, LineSample};
use crate::data::image::normalize::{Gray, crop_to_ink, ink_map, resize};
use crate::data::ink::Ink;
use crate::data::ink::augment::{InkAugment, augment as augment_ink};
use crate::data::ink::bank::{UnipenBank, UnipenConfig, Written, compose_words};
use crate::data::ink::raster::{Pen, rasterize};
use crate::data::ink::words::split_words;
use crate::data::personal::{PersonalConfig, PersonalLine, PersonalSet};
use crate::data::random::mix;
use crate::data::text::{TextSource, digit_text};
use crate::error::{Error, Result};
use crate::task::Task;
use augment::{AugmentConfig, distort, morph, photograph};
use digits::{DigitBank, render_digits};
use fonts::{FontSplit, LoadedFont, check_font_names, load_font_file, select_split};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use render::{GlyphJitter, render_line};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use strokes::{StrokeFont, load_stroke_fonts, render_strokes};

/// Settings of a synthetic line generator (part of a training recipe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthConfig {
    /// Handwriting or printed.
    pub task: Task,
    /// Folder of fonts; default `assets/fonts/<task>`.
    #[serde(default)]
    pub fonts: Option<PathBuf>,
    /// More font folders whose fonts join the pool, split like the main folder's (e.g.
    /// `hwr-extra`, fonts added after the first recipes were published: recipes opt in, so
    /// that the older ones still reproduce). A relative path is taken inside `assets/fonts/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_fonts: Vec<PathBuf>,
    /// Which fonts to use (train or held-out validation fonts).
    #[serde(default)]
    pub split: FontSplit,
    /// Validation fonts by file stem; empty: every fifth font.
    #[serde(default)]
    pub holdout: Vec<String>,
    /// Fonts (file stems, in any of the folders) never trained on: left out of the train (and
    /// all) split, whatever `holdout` says. The recipes list here the fonts that are also npm
    /// `@fontsource/*` packages (`assets/fonts/FONTSOURCE.tsv`), reserved for evaluation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Folder with `english.txt` and `words.txt`; default `assets/corpus`.
    #[serde(default)]
    pub corpus: Option<PathBuf>,
    /// Longest line in characters.
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
    /// Seed; sample `i` depends only on (seed, i).
    #[serde(default)]
    pub seed: u64,
    /// Augmentation strengths; default depends on the task.
    #[serde(default)]
    pub augment: Option<AugmentConfig>,
    /// Share of lines made of real handwritten digits (numbers, dates, times, amounts; see
    /// [`digits`]), in [0, 1]; 0 (the default): none.
    #[serde(default)]
    pub digits: f64,
    /// Folder of digit samples; default `assets/digits` (training halves).
    #[serde(default)]
    pub digit_bank: Option<PathBuf>,
    /// Share of lines written with single-stroke fonts (pen strokes of uniform width, like the
    /// app's canvas; see [`strokes`]), in [0, 1]; 0 (the default): none. The
    /// split picks the training or held-out stroke fonts.
    #[serde(default)]
    pub strokes: f64,
    /// Folder of stroke fonts (`.jhf`); default `assets/fonts/strokes`.
    #[serde(default)]
    pub stroke_fonts: Option<PathBuf>,
    /// Real pen writing from the UNIPEN cache ([`crate::data::ink::bank`]); none by
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unipen: Option<UnipenConfig>,
    /// One user's kept lines (writer adaptation, [`crate::data::personal`]): their training part,
    /// drawn before any other kind at its share; none (the default) leaves the generator as
    /// it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<PersonalConfig>,
}

fn default_max_chars() -> usize {
    40
}

impl SynthConfig {
    /// The font folders this source draws from: `fonts` (default `assets/fonts/<task>`), then
    /// `extra_fonts` (relative ones inside `assets/fonts/`).
    pub fn font_dirs(&self) -> Vec<PathBuf> {
        let main = self
            .fonts
            .clone()
            .unwrap_or_else(|| assets_dir().join("fonts").join(self.task.name()));
        let extra = self.extra_fonts.iter().map(|dir| {
            if dir.is_relative() {
                assets_dir().join("fonts").join(dir)
            } else {
                dir.clone()
            }
        });
        std::iter::once(main).chain(extra).collect()
    }

    /// The font files the generator draws lines in (its split of every folder, without the
    /// excluded fonts), without reading them; an error when a `holdout` or `exclude` name is
    /// not a font file there, or when no font is left.
    pub fn font_files(&self) -> Result<Vec<PathBuf>> {
        let dirs = self.font_dirs();
        check_font_names(&dirs, &self.holdout, "holdout")?;
        check_font_names(&dirs, &self.exclude, "exclude")?;
        let mut files = Vec::new();
        for dir in &dirs {
            files.extend(select_split(dir, self.split, &self.holdout, &self.exclude)?);
        }
        if files.is_empty() {
            return Err(Error::Config(format!(
                "no {:?} fonts left in {} (holdout {:?}, exclude {:?})",
                self.split,
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.holdout,
                self.exclude
            )));
        }
        Ok(files)
    }

    /// A generator for `task` with default settings.
    pub fn new(task: Task) -> Self {
        Self {
            task,
            fonts: None,
            extra_fonts: Vec::new(),
            split: FontSplit::Train,
            holdout: Vec::new(),
            exclude: Vec::new(),
            corpus: None,
            max_chars: default_max_chars(),
            seed: 0,
            augment: None,
            digits: 0.0,
            digit_bank: None,
            strokes: 0.0,
            stroke_fonts: None,
            unipen: None,
            personal: None,
        }
    }
}

/// Every synthetic source (an object with a `"task"` key, at any depth) of a recipe given as
/// JSON: train, distill, fine-tune and experiment recipes alike.
pub fn recipe_sources(recipe: &serde_json::Value) -> Vec<&serde_json::Value> {
    fn walk<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a serde_json::Value>) {
        match v {
            serde_json::Value::Object(map) => {
                if map.contains_key("task") {
                    out.push(v);
                }
                map.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(recipe, &mut out);
    out
}

/// `raw` without the characters a font cannot draw (`covers`), with the spaces that leaves
/// collapsed; `None` if nothing is left.
fn drawable(raw: &str, covers: impl Fn(char) -> bool) -> Option<String> {
    let text: String = raw.chars().filter(|&c| covers(c)).collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// A recipe's share of lines of some kind: an error outside [0, 1], `None` for 0.
fn share(name: &str, value: f64) -> Result<Option<f64>> {
    if !(0.0..=1.0).contains(&value) {
        return Err(crate::error::Error::Config(format!(
            "synth.{name} is {value}: a share of lines, in [0, 1]"
        )));
    }
    Ok((value > 0.0).then_some(value))
}

/// How much each handwritten glyph varies.
const HWR_JITTER: GlyphJitter = GlyphJitter {
    size: 0.1,
    baseline: 0.05,
    slant: 0.15,
    spacing: 0.08,
};

/// A ready generator.
#[derive(Debug, Clone)]
pub struct Synth {
    fonts: Vec<LoadedFont>,
    text: TextSource,
    augment: AugmentConfig,
    task: Task,
    seed: u64,
    digits: Option<(f64, DigitBank)>,
    strokes: Option<(f64, Vec<StrokeFont>)>,
    unipen: Option<(UnipenConfig, Arc<UnipenBank>)>,
    personal: Option<PersonalSource>,
}

/// Fewer words than this (of the writer's training lines) compose no lines: too few to vary.
const MIN_PERSONAL_WORDS: usize = 8;

/// The writer's own lines in writer adaptation, and their words where the lines cut cleanly.
#[derive(Debug, Clone)]
struct PersonalSource {
    /// Share of the source's lines drawn from them.
    share: f64,
    /// Share of those that are new lines composed of the writer's words.
    recompose: f64,
    /// How their ink is varied.
    augment: InkAugment,
    /// The training lines.
    lines: Arc<Vec<PersonalLine>>,
    /// The words of the lines with ink ([`split_words`]), when `recompose` is on.
    words: Arc<Vec<Written>>,
    /// How many words were cut from how many lines (for the run log), when `recompose` is on.
    summary: Option<String>,
}

impl Synth {
    /// Loads fonts and corpus.
    pub fn new(cfg: &SynthConfig) -> Result<Self> {
        let corpus_dir = cfg
            .corpus
            .clone()
            .unwrap_or_else(|| assets_dir().join("corpus"));
        let fonts = cfg
            .font_files()?
            .iter()
            .map(|path| load_font_file(path))
            .collect::<Result<Vec<_>>>()?;
        let text = TextSource::load(&corpus_dir, cfg.max_chars)?;
        let augment = cfg.augment.clone().unwrap_or_else(|| match cfg.task {
            Task::Hwr => AugmentConfig::default(),
            Task::Ocr => AugmentConfig::printed(),
        });
        let digits = match share("digits", cfg.digits)? {
            Some(p) => {
                let dir = cfg.digit_bank.clone();
                let dir = dir.unwrap_or_else(|| assets_dir().join("digits"));
                Some((p, DigitBank::load(&dir)?))
            }
            None => None,
        };
        let strokes = match share("strokes", cfg.strokes)? {
            Some(p) => {
                let dir = cfg.stroke_fonts.clone();
                let dir = dir.unwrap_or_else(|| assets_dir().join("fonts").join("strokes"));
                Some((p, load_stroke_fonts(&dir, cfg.split)?))
            }
            None => None,
        };
        let unipen = match &cfg.unipen {
            Some(u) => {
                share("unipen.share", u.share)?;
                Some((u.clone(), Arc::new(UnipenBank::load(u)?)))
            }
            None => None,
        };
        let personal = match &cfg.personal {
            Some(p) => {
                share("personal.share", p.share)?;
                let set = PersonalSet::read(&p.dir)?;
                let (train, _) = set.split(p.holdout);
                if train.is_empty() {
                    return Err(Error::Config(format!(
                        "{}: every one of its {} lines is held back; keep more lines or hold \
                         back fewer",
                        p.dir.display(),
                        set.lines.len()
                    )));
                }
                share("personal.recompose", p.recompose)?;
                if !(p.style_jitter.is_finite() && p.style_jitter >= 0.0) {
                    return Err(Error::Config(format!(
                        "personal.style_jitter must be 0 or more, got {}",
                        p.style_jitter
                    )));
                }
                // Cut only when they are used: every adaptation reads this source.
                let (cut, summary): (Vec<Vec<(Ink, String)>>, _) = if p.recompose > 0.0 {
                    let cut: Vec<_> = train
                        .iter()
                        .filter_map(|l| split_words(l.ink.as_ref()?, &l.text))
                        .collect();
                    let summary = format!(
                        "{} words cut from {} of the {} training lines compose new lines",
                        cut.iter().map(Vec::len).sum::<usize>(),
                        cut.len(),
                        train.len()
                    );
                    (cut, Some(summary))
                } else {
                    (Vec::new(), None)
                };
                let words = cut
                    .into_iter()
                    .flatten()
                    .map(|(ink, text)| Written::personal(&ink, text))
                    .collect();
                Some(PersonalSource {
                    share: p.share,
                    recompose: p.recompose,
                    augment: InkAugment::default().scaled(p.style_jitter as f32),
                    lines: Arc::new(train.into_iter().cloned().collect()),
                    words: Arc::new(words),
                    summary,
                })
            }
            None => None,
        };
        Ok(Self {
            fonts,
            text,
            augment,
            task: cfg.task,
            seed: cfg.seed,
            digits,
            strokes,
            unipen,
            personal,
        })
    }

    /// The names of the fonts in use.
    pub fn font_names(&self) -> Vec<String> {
        self.fonts.iter().map(|f| f.name.clone()).collect()
    }

    /// Sample `index`: a gray line image (0 = black) and its text.
    pub fn sample(&self, index: u64) -> LineSample {
        let mut rng = StdRng::seed_from_u64(mix(self.seed, index));
        // A few attempts in case a font draws nothing for the chosen text.
        for _ in 0..8 {
            if let Some((gray, text, personal)) = self.try_sample(index, &mut rng) {
                return LineSample {
                    id: format!("synth-{}-{index}", self.seed),
                    image: LineImage::Pixels(gray),
                    text,
                    personal,
                };
            }
        }
        // Fall back to a plain word in the first font.
        let text = "ink".to_owned();
        let gray = render_line(
            &text,
            &[&self.fonts[0]],
            40.0,
            GlyphJitter::NONE,
            0.0,
            &mut rng,
        )
        .map(|c| Gray {
            pixels: c.pixels.iter().map(|v| 1.0 - v).collect(),
            ..c
        })
        .unwrap_or(Gray {
            pixels: vec![1.0; 4],
            width: 2,
            height: 2,
        });
        LineSample {
            id: format!("synth-{}-{index}", self.seed),
            image: LineImage::Pixels(gray),
            text,
            personal: false,
        }
    }

    /// What the UNIPEN part read (for the run log), if the source has one.
    pub fn unipen_summary(&self) -> Option<&str> {
        self.unipen.as_ref().map(|(_, b)| b.summary.as_str())
    }

    /// What the personal part cut into words (for the run log), if it composes new lines.
    pub fn personal_summary(&self) -> Option<&str> {
        self.personal.as_ref()?.summary.as_deref()
    }

    /// A line, its text, and whether it is one of the writer's own lines.
    fn try_sample(&self, index: u64, rng: &mut StdRng) -> Option<(Gray, String, bool)> {
        if let Some(p) = &self.personal
            && rng.random_bool(p.share)
        {
            let line = &p.lines[rng.random_range(0..p.lines.len())];
            let size = rng.random_range(32.0f32..52.0);
            let composed = (p.recompose > 0.0
                && p.words.len() >= MIN_PERSONAL_WORDS
                && rng.random_bool(p.recompose))
            .then(|| compose_words(&p.words, self.text.max_chars, rng))
            .flatten();
            let (ink, text) = match composed {
                Some((ink, text)) => (Some(ink), text),
                None => (line.ink.clone(), line.text.clone()),
            };
            let cov = match &ink {
                // The user's ink, changed as UNIPEN writers' is, with a new pen each time.
                Some(ink) => {
                    let mut ink = augment_ink(ink, &p.augment, rng);
                    ink.fit_height(size * rng.random_range(0.8f32..1.1));
                    let pen = Pen {
                        width: size * rng.random_range(0.035f32..0.09),
                        scale: 1.0,
                        margin: 0.0,
                    };
                    rasterize(&ink, &pen)?
                }
                // A loaded image: its ink map at a size like the generated lines'.
                None => {
                    let cov = Gray {
                        pixels: ink_map(&line.image),
                        ..line.image.clone()
                    };
                    let cov = crop_to_ink(&cov, 0)?;
                    let scale = size / cov.height.max(1) as f32;
                    let (w, h) = (
                        ((cov.width as f32 * scale).round() as usize).max(1),
                        size.round() as usize,
                    );
                    Gray {
                        pixels: resize(&cov.pixels, cov.width, cov.height, w, h),
                        width: w,
                        height: h,
                    }
                }
            };
            return Some((self.finish(&cov, size, rng)?, text, true));
        }
        if let Some((cfg, bank)) = &self.unipen
            && rng.random_bool(cfg.share)
        {
            let aug = cfg.augment.clone().unwrap_or_default();
            let nth = cfg.in_order.then_some(index);
            let (mut ink, text) = bank.sample(nth, cfg.mix, &aug, self.text.max_chars, rng)?;
            let size = rng.random_range(32.0f32..52.0);
            ink.fit_height(size * rng.random_range(0.8f32..1.1));
            let pen = Pen {
                width: size * rng.random_range(0.035f32..0.09),
                scale: 1.0,
                margin: 0.0,
            };
            let cov = rasterize(&ink, &pen)?;
            return Some((self.finish(&cov, size, rng)?, text, false));
        }
        if let Some((share, bank)) = &self.digits
            && rng.random_bool(*share)
        {
            let text = digit_text(rng);
            let size = rng.random_range(28.0f32..44.0);
            let cov = render_digits(&text, bank, size, rng)?;
            return Some((self.finish(&cov, size, rng)?, text, false));
        }
        if let Some((share, fonts)) = &self.strokes
            && rng.random_bool(*share)
        {
            let font = &fonts[rng.random_range(0..fonts.len())];
            let text = drawable(&self.text.sample(rng), |c| font.covers(c))?;
            let size = rng.random_range(32.0f32..52.0);
            let cov = render_strokes(&text, font, size, HWR_JITTER, rng)?;
            return Some((self.finish(&cov, size, rng)?, text, false));
        }
        let font = &self.fonts[rng.random_range(0..self.fonts.len())];
        let text = drawable(&self.text.sample(rng), |c| font.covers(c))?;
        let (jitter, mix_p) = match self.task {
            Task::Hwr => (HWR_JITTER, 0.08),
            Task::Ocr => (
                GlyphJitter {
                    size: 0.0,
                    baseline: 0.0,
                    slant: 0.0,
                    spacing: 0.03,
                },
                0.0,
            ),
        };
        let others: Vec<&LoadedFont> = std::iter::once(font)
            .chain(
                self.fonts
                    .iter()
                    .filter(|f| f.name != font.name && text.chars().all(|c| f.covers(c)))
                    .take(3),
            )
            .collect();
        let size = rng.random_range(32.0f32..52.0);
        let cov = render_line(&text, &others, size, jitter, mix_p, rng)?;
        Some((self.finish(&cov, size, rng)?, text, false))
    }

    /// Crops rendered ink, varies its stroke width, distorts and "photographs" it.
    fn finish(&self, cov: &Gray, size: f32, rng: &mut StdRng) -> Option<Gray> {
        let cov = crop_to_ink(cov, (size * 0.6) as usize)?;
        let cov = if self.augment.stroke > 0.0 && rng.random_bool(self.augment.stroke) {
            let changed = morph(&cov, rng.random_bool(0.6));
            // Thinning must not erase thin strokes: keep it only if most of the ink survives.
            let mass = |g: &Gray| g.pixels.iter().sum::<f32>();
            if mass(&changed) > 0.6 * mass(&cov) {
                changed
            } else {
                cov
            }
        } else {
            cov
        };
        let cov = distort(&cov, size, &self.augment, rng);
        Some(photograph(&cov, &self.augment, rng))
    }
}

/// Writes `count` synthetic lines of the generator `cfg` to `out` as `NAME.png` +
/// `NAME.gt.txt`.
pub fn write_samples(cfg: &SynthConfig, count: usize, out: &std::path::Path) -> Result<usize> {
    let (task, seed) = (cfg.task, cfg.seed);
    let generator = Synth::new(cfg)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for i in 0..count {
        let s = generator.sample(i as u64);
        let gray: Gray = s.image.load()?;
        let name = format!("{:?}-{seed}-{i:06}", task).to_lowercase();
        crate::data::readers::folder::write_pair(out, &name, &gray, &s.text)?;
    }
    Ok(count)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::synth::fonts::shipped_holdout;

    /// `extra_fonts` adds the training fonts of another folder and none to the held-out split.
    #[test]
    fn extra_font_folders_join_the_training_fonts_only() {
        let mut cfg = SynthConfig::new(Task::Hwr);
        cfg.holdout = shipped_holdout(Task::Hwr);
        let base = Synth::new(&cfg).unwrap().font_names();
        cfg.extra_fonts = vec![PathBuf::from("hwr-extra")];
        let more = Synth::new(&cfg).unwrap().font_names();
        assert!(more.len() >= base.len() + 10, "{base:?} -> {more:?}");
        assert!(more.iter().any(|n| n == "NanumPen"));
        cfg.split = FontSplit::Valid;
        let valid = Synth::new(&cfg).unwrap().font_names();
        assert_eq!(valid, shipped_holdout(Task::Hwr));
        let line = Synth::new(&cfg).unwrap().sample(3);
        assert!(!line.text.is_empty());
    }

    /// `exclude` takes fonts out of training (from any folder) and leaves the held-out split
    /// alone; a misspelt name, or excluding every training font, is a configuration error.
    #[test]
    fn excluded_fonts_are_never_trained_on() {
        let mut cfg = SynthConfig::new(Task::Hwr);
        cfg.holdout = shipped_holdout(Task::Hwr);
        cfg.extra_fonts = vec![PathBuf::from("hwr-extra")];
        let all = Synth::new(&cfg).unwrap().font_names();
        cfg.exclude = vec!["Caveat-Variable".into(), "NanumPen".into(), "Kristi".into()];
        let kept = Synth::new(&cfg).unwrap().font_names();
        assert_eq!(kept.len(), all.len() - 2, "{all:?} -> {kept:?}");
        assert!(!kept.iter().any(|n| cfg.exclude.contains(n)));
        cfg.split = FontSplit::Valid;
        assert_eq!(
            Synth::new(&cfg).unwrap().font_names(),
            shipped_holdout(Task::Hwr)
        );
        cfg.split = FontSplit::Train;
        cfg.exclude = vec!["Caveat".into()];
        let err = Synth::new(&cfg).err().unwrap().to_string();
        assert!(err.contains("exclude font \"Caveat\""), "{err}");
        cfg.exclude = all.clone();
        let err = Synth::new(&cfg).err().unwrap().to_string();
        assert!(err.contains("no Train fonts left"), "{err}");
    }

    /// A misspelt held-out font is a configuration error, not a font silently left in training.
    #[test]
    fn an_unknown_holdout_font_is_a_clear_error() {
        let mut cfg = SynthConfig::new(Task::Hwr);
        cfg.holdout = vec!["Kalam-Regular".into(), "Kalam-Regullar".into()];
        let err = Synth::new(&cfg).err().unwrap().to_string();
        assert!(err.contains("\"Kalam-Regullar\""), "{err}");
        assert!(err.contains("Kalam-Regular"), "{err}");
        // A name found only in an extra folder is fine.
        cfg.holdout = vec!["NanumPen".into()];
        cfg.extra_fonts = vec![PathBuf::from("hwr-extra")];
        assert!(Synth::new(&cfg).is_ok());
    }

    /// With `recompose`, the writer's lines also come back as new lines of their own words:
    /// every personal sample's words are words of the kept lines, some in an order no kept
    /// line has; without it, only the kept lines.
    #[test]
    fn personal_words_compose_new_lines() {
        use crate::data::ink::inkml::{InkDocument, write};
        use crate::data::ink::{Ink, InkStroke};
        let dir = std::env::temp_dir().join(format!("inkling-recompose-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Four lines of three "words" each (zigzags 30 wide, 30 tall, 20 apart).
        let texts = [
            "one two three",
            "four five six",
            "seven eight nine",
            "ten eleven twelve",
        ];
        for (i, text) in texts.iter().enumerate() {
            let strokes = (0..3)
                .map(|w| {
                    let x = w as f32 * 50.0;
                    InkStroke::from_xy(&[
                        (x, 0.0),
                        (x + 10.0, 30.0),
                        (x + 20.0, 0.0),
                        (x + 30.0, 30.0),
                    ])
                })
                .collect();
            let doc = InkDocument {
                ink: Ink { strokes },
                text: Some((*text).into()),
            };
            write(&dir.join(format!("{i}.inkml")), &doc).unwrap();
        }
        let words: Vec<&str> = texts.iter().flat_map(|t| t.split(' ')).collect();
        let mut cfg = SynthConfig::new(Task::Hwr);
        cfg.personal = Some(PersonalConfig {
            dir: dir.clone(),
            holdout: 0,
            share: 1.0,
            recompose: 0.0,
            style_jitter: 1.0,
        });
        let kept = Synth::new(&cfg).unwrap();
        for i in 0..20 {
            let line = kept.sample(i);
            assert!(
                line.personal && texts.contains(&line.text.as_str()),
                "{}",
                line.text
            );
        }
        cfg.personal.as_mut().unwrap().recompose = 1.0;
        let composed = Synth::new(&cfg).unwrap();
        let mut new_lines = 0;
        for i in 0..20 {
            let line = composed.sample(i);
            assert!(line.personal);
            assert!(
                line.text.split(' ').all(|w| words.contains(&w)),
                "{}",
                line.text
            );
            new_lines += usize::from(!texts.contains(&line.text.as_str()));
        }
        assert!(new_lines >= 10, "{new_lines} of 20 lines new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
