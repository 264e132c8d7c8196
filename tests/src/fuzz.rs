//! A stable-toolchain fuzzer for the engine's readers (no nightly here, so no cargo-fuzz): each
//! target takes arbitrary bytes through one reader and must return, Ok or a clear error, never
//! panic. Inputs grow from a seed corpus (`tests/fuzz/corpus/TARGET/`) by byte mutations
//! (flips, random bytes, insertions, deletions, repeated runs, splices of two inputs, and
//! "interesting" integers written over little-endian fields). A panicking input is saved
//! under `tests/fuzz/crashes/TARGET/` to become a regression test; `tests/tests/fuzz_corpus.rs`
//! replays both folders in CI.
//!
//! Run: `cargo run --release -p inkling-tests --bin fuzz -- TARGET|all [SECONDS]`.

use engine::burn::prelude::Device;
use std::path::{Path, PathBuf};

/// The fuzz targets.
pub const TARGETS: [&str; 8] = [
    "image", "model", "lm", "unipen", "inkml", "pagexml", "iam", "tsv",
];

/// The corpus folder of a target (committed seeds).
pub fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// Where a target's panicking inputs are kept (committed, replayed as regression tests).
pub fn crashes_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/crashes")
        .join(target)
}

/// Every file of `dir` (none when it does not exist), sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file());
    out.sort();
    out
}

/// Runs `input` through `target`, with `scratch` as a private folder for readers that take
/// files. Errors are fine; a panic propagates.
pub fn run(target: &str, input: &[u8], scratch: &Path) {
    let write = |name: &str| {
        let p = scratch.join(name);
        std::fs::write(&p, input).expect("scratch write");
        p
    };
    match target {
        "image" => {
            // As mutated, and (PNG) with its chunks' checksums made to match, so that the
            // decoder reads the damaged contents instead of stopping at the first checksum.
            for bytes in [Some(input.to_vec()), with_png_crcs(input)]
                .into_iter()
                .flatten()
            {
                if let Ok(gray) =
                    engine::data::image::normalize::decode_gray(&bytes, Path::new("f.png"))
                    && gray.width * gray.height <= 4_000_000
                {
                    let _ =
                        engine::data::image::normalize::normalize(&gray, 40, Path::new("f.png"));
                    let _ = engine::data::image::segment::split_lines(&gray);
                }
            }
        }
        "model" => {
            // As mutated (the checksum refuses almost all), then with the checksum made to
            // match, so that the header and weights parsers see the damage.
            let path = Path::new("fuzz.inkm");
            let _ = engine::model_file::from_bytes(input, path, &Device::flex());
            if input.len() > 24 {
                let mut fixed = input.to_vec();
                let end = fixed.len() - 4;
                let crc = crc32fast::hash(&fixed[..end]);
                fixed[end..].copy_from_slice(&crc.to_le_bytes());
                let _ = engine::model_file::from_bytes(&fixed, path, &Device::flex());
            }
        }
        "lm" => {
            if let Ok(lm) = engine::lm::CharLm::from_bytes(input, Path::new("fuzz.lm")) {
                let history: Vec<char> = "the ".chars().collect();
                let _ = lm.prob(&history, Some('a'));
                let _ = lm.distribution(&history);
            }
        }
        "unipen" => {
            let path = write("fuzz.dat");
            let mut stats = engine::data::ink::unipen::UnipenStats::default();
            let _ = engine::data::ink::unipen::read_file(&path, scratch, "8", "fuzz", &mut stats);
        }
        "inkml" => {
            let text = String::from_utf8_lossy(input);
            let _ = engine::data::ink::inkml::parse(&text, Path::new("fuzz.inkml"));
        }
        "pagexml" => {
            let _ = engine::data::readers::pagexml::read_page(&write("page.xml"));
        }
        "iam" => {
            let _ = engine::data::readers::iam::read_iam(&write("lines.txt"));
        }
        "tsv" => {
            let _ = engine::data::readers::tsv::read_tsv(&write("list.tsv"));
        }
        other => panic!("unknown fuzz target {other}"),
    }
}

/// A PNG's bytes with every whole chunk's CRC recomputed (`None` for other bytes).
fn with_png_crcs(input: &[u8]) -> Option<Vec<u8>> {
    if !input.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let mut v = input.to_vec();
    let mut at = 8;
    while at + 12 <= v.len() {
        let len = u32::from_be_bytes([v[at], v[at + 1], v[at + 2], v[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e + 4 <= v.len()) else {
            break;
        };
        let crc = crc32fast::hash(&v[at + 4..end]);
        v[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
    Some(v)
}

/// A small deterministic generator (xorshift).
pub struct Rng(u64);

impl Rng {
    /// Seeded (never zero).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Integers that break parsers: sizes at the edges of their types.
const INTERESTING: [u64; 8] = [0, 1, 0x7f, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff, u64::MAX];

/// One to four mutations of `input`, sometimes spliced with `other`.
pub fn mutate(input: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                v.splice(i..i, bytes);
            }
            3 if len > 1 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            4 if len > 0 => {
                // Repeat a run (grows lists, nests elements).
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                let run = v[i..i + n].to_vec();
                for _ in 0..1 + rng.below(8) {
                    v.splice(i..i, run.iter().copied());
                }
            }
            5 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ if len >= 8 => {
                let i = rng.below(len - 7);
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let width = [1usize, 2, 4, 8][rng.below(4)];
                v[i..i + width].copy_from_slice(&value.to_le_bytes()[..width]);
            }
            _ => v.push(rng.next_u64() as u8),
        }
    }
    v.truncate(1 << 20);
    v
}

/// The outcome of a fuzzing session of one target.
#[derive(Debug, Default)]
pub struct Session {
    /// Inputs run.
    pub runs: u64,
    /// Inputs that panicked, saved under [`crashes_dir`].
    pub crashes: Vec<PathBuf>,
}

/// Fuzzes `target` for `seconds` from its corpus, saving panicking inputs.
pub fn fuzz(target: &str, seconds: f64, seed: u64) -> Session {
    let corpus: Vec<Vec<u8>> = files(&corpus_dir(target))
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    let corpus = if corpus.is_empty() {
        vec![Vec::new()]
    } else {
        corpus
    };
    let scratch =
        std::env::temp_dir().join(format!("inkling-fuzz-{target}-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let start = std::time::Instant::now();
    let mut rng = Rng::new(seed);
    let mut session = Session::default();
    // Panics are expected and reported; keep their messages off the terminal.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    while start.elapsed().as_secs_f64() < seconds {
        let a = &corpus[rng.below(corpus.len())];
        let b = &corpus[rng.below(corpus.len())];
        let input = mutate(a, b, &mut rng);
        let outcome = std::panic::catch_unwind(|| run(target, &input, &scratch));
        session.runs += 1;
        if outcome.is_err() {
            let dir = crashes_dir(target);
            std::fs::create_dir_all(&dir).expect("crashes folder");
            let path = dir.join(format!("crash-{:016x}", fnv(&input)));
            std::fs::write(&path, &input).expect("save crash");
            session.crashes.push(path);
        }
    }
    std::panic::set_hook(quiet);
    let _ = std::fs::remove_dir_all(&scratch);
    session
}

/// FNV-1a, to name crash files by content.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
