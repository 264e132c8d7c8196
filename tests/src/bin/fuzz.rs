//! `fuzz TARGET|all [SECONDS] [SEED]`: fuzzes the engine's readers from the seed corpus (see
//! `inkling_tests::fuzz`), printing inputs run and crashes found per target. `fuzz seed`
//! rewrites the seed corpus from its generators.
#![allow(clippy::expect_used)]

use inkling_tests::fuzz;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(which) = args.first() else {
        eprintln!(
            "usage: fuzz TARGET|all [SECONDS] [SEED] | fuzz seed   (targets: {})",
            fuzz::TARGETS.join(", ")
        );
        return std::process::ExitCode::FAILURE;
    };
    if which == "seed" {
        inkling_tests::fuzz_seeds::write_all();
        return std::process::ExitCode::SUCCESS;
    }
    let seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let targets: Vec<&str> = if which == "all" {
        fuzz::TARGETS.to_vec()
    } else if fuzz::TARGETS.contains(&which.as_str()) {
        vec![which.as_str()]
    } else {
        eprintln!("unknown target {which} ({})", fuzz::TARGETS.join(", "));
        return std::process::ExitCode::FAILURE;
    };
    let mut crashed = false;
    for t in targets {
        let s = fuzz::fuzz(t, seconds, seed);
        println!(
            "{t}: {} inputs in {seconds} s, {} crashes{}",
            s.runs,
            s.crashes.len(),
            s.crashes
                .first()
                .map(|p| format!(" (first: {})", p.display()))
                .unwrap_or_default()
        );
        crashed |= !s.crashes.is_empty();
    }
    if crashed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
