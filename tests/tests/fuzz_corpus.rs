//! Replays the fuzzers' seed corpus and every input that once crashed a reader
//! (`tests/fuzz/`, see `inkling_tests::fuzz`): each must give Ok or an error, not a panic.
//! Seconds, not the minutes of a fuzzing session.

use inkling_tests::fuzz::{TARGETS, corpus_dir, crashes_dir, files, run};

#[test]
fn the_corpus_and_past_crashes_read_without_panics() {
    for target in TARGETS {
        let scratch = inkling_tests::scratch(&format!("fuzz-replay-{target}"));
        let seeds = files(&corpus_dir(target));
        assert!(!seeds.is_empty(), "no seeds for {target}: run `fuzz seed`");
        for input in seeds.iter().chain(&files(&crashes_dir(target))) {
            let bytes = std::fs::read(input).unwrap_or_default();
            let outcome = std::panic::catch_unwind(|| run(target, &bytes, &scratch));
            assert!(outcome.is_ok(), "{target}: {} panics", input.display());
        }
    }
}
