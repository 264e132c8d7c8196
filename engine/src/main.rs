//! `engine`: the headless command line of Inkling.

mod cli;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, DataCommand, ExperimentCommand, OutputFormat};
use engine::experiment::{self, distill::DistillExperiment};
use engine::jobs::{self, ImageResult};
use engine::recipe::{RecipeKind, read_recipe};
use engine::train::config::TrainConfig;
use engine::train::distill::{DistillConfig, distill};
use engine::train::finetune::{FinetuneRecipe, finetune};
use engine::train::progress::{CancelToken, ProgressEvent};
use engine::train::run::{Run, recipe_path};
use engine::train::supervised::train;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Output into a closed pipe (`engine eval ... | head -1`) ends the program quietly, as
    // for other command-line tools, instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: no other thread exists yet; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // Each engine process is one job: keep the kernels' freed buffers for the next step.
    engine::kernels::allocator::keep_freed_memory();
    if matches!(
        cli.command,
        Command::Bench { .. } | Command::BenchDecode { .. } | Command::BenchE2e { .. }
    ) && std::env::var_os("RAYON_NUM_THREADS").is_none()
    {
        // SAFETY: no other thread exists yet. One thread, as the paper measures latency.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    if let Err(e) = engine::kernels::tier::from_env() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let cancelled = e
                .chain()
                .any(|c| matches!(c.downcast_ref(), Some(engine::Error::Cancelled(_))));
            let out_of_space = e.chain().any(|c| {
                c.downcast_ref::<engine::Error>()
                    .is_some_and(engine::Error::is_out_of_space)
            });
            let hint = if cancelled {
                " (run the same command with --resume)"
            } else if out_of_space {
                " (no room to write: files are written whole or not at all, so the last \
                 checkpoint and model are intact; make room, then run the same command, with \
                 --resume for a training run)"
            } else {
                ""
            };
            eprintln!("error: {e:#}{hint}");
            ExitCode::FAILURE
        }
    }
}

/// The run of a training command: its folder, the recipe's name, `--resume`, scale-out.
fn run_in<'a>(
    out: &'a std::path::Path,
    recipe_name: &'a str,
    resume: bool,
    scale: &'a engine::scale::ScaleConfig,
    cancel: &'a engine::train::progress::CancelToken,
) -> Run<'a> {
    Run {
        dir: out,
        recipe_name,
        resume,
        scale,
        cancel,
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Train {
            config,
            out,
            resume,
            scale,
        } => {
            let path = recipe_arg(config, &out, resume)?;
            let cfg = TrainConfig::load(&path)?;
            let name = path.display().to_string();
            let scale = scale.config();
            let result = with_progress(|cancel, observer| {
                train(&cfg, run_in(&out, &name, resume, &scale, cancel), observer)
            })
            .with_context(|| format!("training run {}", out.display()))?;
            println!(
                "trained {} steps in {:.0} s; best validation CER {}; best model {}",
                result.steps,
                result.elapsed_s,
                result
                    .best_cer
                    .map(|c| format!("{c:.2}%"))
                    .unwrap_or_else(|| "n/a".into()),
                result.best_model.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Distill {
            config,
            out,
            teacher,
            criterion,
            temperature,
            resume,
            scale,
        } => {
            let scale = scale.config();
            let path = recipe_arg(config, &out, resume)?;
            let mut cfg: DistillConfig = read_recipe(&path, RecipeKind::Distill)?;
            if let Some(t) = teacher {
                cfg.teacher = t;
            }
            if let Some(c) = criterion {
                cfg.criterion = c.with_temperature(temperature);
            }
            let name = path.display().to_string();
            let result = with_progress(|cancel, observer| {
                distill(&cfg, run_in(&out, &name, resume, &scale, cancel), observer)
            })
            .with_context(|| format!("distillation run {}", out.display()))?;
            println!("student: {}", result.student().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Finetune {
            model,
            config,
            out,
            resume,
            scale,
        } => {
            let scale = scale.config();
            let path = recipe_arg(config, &out, resume)?;
            let cfg: FinetuneRecipe = read_recipe(&path, RecipeKind::Finetune)?;
            let name = path.display().to_string();
            let result = with_progress(|cancel, observer| {
                let run = run_in(&out, &name, resume, &scale, cancel);
                finetune(&model, &cfg, run, observer)
            })
            .with_context(|| format!("fine-tuning run {}", out.display()))?;
            println!("fine-tuned model: {}", result.best_model.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Adapt {
            model,
            data,
            out,
            run,
            holdout,
            steps,
            batch_size,
            lr,
            share,
            recompose,
            style_jitter,
            replay,
            seed,
            trainable,
            soft_targets,
            soft_weight,
            resume,
            decoding,
            json,
        } => {
            use engine::train::adapt::{AdaptConfig, replay_of};
            let model = model.path()?;
            let run = run.unwrap_or_else(|| engine::train::adapt::default_run_dir(&out));
            let saved = run.join(engine::train::adapt::CONFIG_FILE);
            let cfg = if resume && saved.is_file() {
                AdaptConfig::read(&saved)?
            } else {
                let header = engine::model_file::read_header(&model)?;
                let set = engine::data::personal::PersonalSet::read(&data)?;
                let replay = match replay.as_str() {
                    "none" => None,
                    "auto" => Some(replay_of(&header, seed, &mut |m| eprintln!("note: {m}"))?),
                    recipe => {
                        let mut source =
                            engine::recipe::synth_source(std::path::Path::new(recipe), false)?;
                        source.seed = seed;
                        Some(source)
                    }
                };
                let mut cfg = AdaptConfig::new(&data, set.lines.len(), replay);
                if let Some(h) = holdout {
                    cfg.personal.holdout = h;
                }
                if let Some(s) = share {
                    cfg.personal.share = s;
                }
                if let Some(r) = recompose {
                    cfg.personal.recompose = r;
                }
                if let Some(j) = style_jitter {
                    cfg.personal.style_jitter = j;
                }
                cfg.steps = steps;
                cfg.batch_size = batch_size;
                cfg.lr = lr;
                cfg.seed = seed;
                cfg.trainable = trainable;
                use engine::train::soft_targets::{BASE, SoftTargets};
                cfg.soft_targets = match soft_targets.as_str() {
                    "none" => None,
                    BASE => cfg.soft_targets.take(),
                    model => Some(SoftTargets::new(model)),
                }
                .map(|s| SoftTargets {
                    weight: soft_weight,
                    ..s
                });
                cfg
            };
            let decoder = decoding.decoder(&model)?;
            let report = with_progress(|cancel, observer| {
                let run_in = Run {
                    dir: &run,
                    recipe_name: "engine adapt",
                    resume,
                    scale: &engine::scale::ScaleConfig::default(),
                    cancel,
                };
                jobs::adapt(&model, &cfg, &out, run_in, decoder, observer)
            })
            .with_context(|| format!("adaptation run {}", run.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let on = if report.held > 0 {
                    format!("{} held-back lines", report.held)
                } else {
                    "the training lines (none held back)".to_owned()
                };
                println!(
                    "adapted on {} personal lines in {:.0} s: {}",
                    report.lines,
                    report.train_seconds,
                    report.model.display()
                );
                println!(
                    "CER on {on}: {:.2}% before, {:.2}% after (WER {:.2}% -> {:.2}%)",
                    report.before.cer, report.after.cer, report.before.wer, report.after.wer
                );
                println!(
                    "guard, {} lines of other writing (held-out fonts, greedy): CER {:.2}% -> {:.2}%{}",
                    report.guard_before.lines,
                    report.guard_before.cer,
                    report.guard_after.cer,
                    if report.guard_flag {
                        format!(
                            " - WARNING: more than {} points lost; the adapted model reads other \
                             writing worse",
                            jobs::GUARD_POINTS
                        )
                    } else {
                        String::new()
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Experiment {
            which: ExperimentCommand::Distill { config, out, only },
        } => {
            let cfg: DistillExperiment = read_recipe(&config, RecipeKind::ExperimentDistill)?;
            let name = config.display().to_string();
            if let Some(which) = only {
                let model = with_progress(|cancel, observer| {
                    experiment::distill::run_one(&cfg, &name, &out, &which, cancel, observer)
                })
                .with_context(|| format!("experiment {}", out.display()))?;
                println!("run {which} finished: {}", model.display());
                return Ok(ExitCode::SUCCESS);
            }
            let (rows, _) = with_progress(|cancel, observer| {
                experiment::distill::run(&cfg, &name, &out, cancel, observer)
            })
            .with_context(|| format!("experiment {}", out.display()))?;
            print!("{}", std::fs::read_to_string(out.join("results.md"))?);
            println!();
            print!("{}", std::fs::read_to_string(out.join("analysis.md"))?);
            println!("({} models; tables in {})", rows.len(), out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Experiment {
            which: ExperimentCommand::Tucker { config, out },
        } => {
            let cfg: experiment::tucker::TuckerExperiment =
                read_recipe(&config, RecipeKind::ExperimentTucker)?;
            let name = config.display().to_string();
            let rows = with_progress(|cancel, observer| {
                experiment::tucker::run(&cfg, &name, &out, cancel, observer)
            })
            .with_context(|| format!("experiment {}", out.display()))?;
            print!("{}", std::fs::read_to_string(out.join("tucker.md"))?);
            println!("({} models; table in {})", rows.len(), out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Experiment {
            which: ExperimentCommand::Scale { runs, json, plot },
        } => {
            let arms = runs
                .iter()
                .map(|r| match r.split_once('=') {
                    Some((name, dir)) if !name.is_empty() && !dir.is_empty() => {
                        Ok((name.to_owned(), std::path::PathBuf::from(dir)))
                    }
                    _ => anyhow::bail!("--run {r}: expected NAME=RUN_FOLDER"),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let report = experiment::scale::compare(&arms)?;
            report.write(&json)?;
            if let Some(plot) = &plot {
                experiment::scale_plot::draw(&report, plot)?;
            }
            print!("{}", report.table());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            presets,
            models,
            width,
            lines,
            runs,
            no_burn,
            no_onnx,
            int8_lstm,
            no_winograd,
            tiers,
            json,
        } => {
            use engine::kernels::tier::{self, Tier};
            let tiers: Vec<Option<Tier>> = if tiers.is_empty() {
                vec![None]
            } else if tiers.iter().any(|t| t == "all") {
                Tier::available().into_iter().map(Some).collect()
            } else {
                tiers
                    .iter()
                    .map(|t| t.parse::<Tier>().map(Some))
                    .collect::<Result<_, _>>()
                    .map_err(anyhow::Error::msg)?
            };
            if int8_lstm && !engine::kernels::lstm_int8::available() {
                anyhow::bail!(
                    "--int8-lstm needs AVX-512 VNNI, which this CPU lacks (the portable int8 \
                     kernel would be timed instead of a real one)"
                );
            }
            let opts = engine::bench::BenchOptions {
                reference_width: width,
                lines,
                runs,
                burn: !no_burn,
                onnx: !no_onnx,
                int8_lstm,
                winograd: !no_winograd,
            };
            let mut reports = Vec::new();
            for t in &tiers {
                tier::force(*t).map_err(anyhow::Error::msg)?;
                // Models are converted under the tier they run on (their packed layouts
                // follow the kernels).
                let bench_models = if models.is_empty() {
                    engine::bench::preset_models(&presets)
                } else {
                    engine::bench::load_for_bench(&models)?
                };
                let report = engine::bench::bench_models(&bench_models, &opts)?;
                if !json {
                    println!("Kernel tier: {}\n", tier::current());
                    print!("{}", engine::bench::markdown(&report, &bench_models));
                    println!();
                }
                reports.push(report);
            }
            if json {
                if reports.len() == 1 {
                    println!("{}", serde_json::to_string_pretty(&reports[0])?);
                } else {
                    println!("{}", serde_json::to_string_pretty(&reports)?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tucker {
            model,
            ranks,
            hooi,
            out,
            json,
        } => {
            let spec: engine::tucker::ranks::RankSpec = ranks.parse()?;
            let teacher = engine::model_file::load(&model, &burn::prelude::Device::flex())?;
            let (m, header, report) =
                engine::tucker::convert::decompose_model(&teacher, &model, spec, hooi)?;
            engine::model_file::save(&out, &m, &header)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.table());
                println!("wrote {}", out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Widen {
            model,
            factor,
            seed,
            out,
        } => {
            let m = engine::model_file::load(&model, &burn::prelude::Device::flex())?;
            let (wide, config) =
                engine::models::widen::widen(&m.model, &m.header.config, factor, seed)?;
            let mut header = m.header.clone();
            header.config = config;
            header.provenance.notes = format!(
                "{}; widened {factor}x (Net2Net, seed {seed}) from {}",
                header.provenance.notes,
                model.display()
            );
            engine::model_file::save(&out, &wide, &header)?;
            let cost = |c| engine::models::cost::summary(c, 800);
            let (a, b) = (cost(&m.header.config), cost(&header.config));
            println!(
                "wrote {}: {:.3}M -> {:.3}M params, {:.3} -> {:.3} GFLOPs at width 800",
                out.display(),
                a.params as f64 / 1e6,
                b.params as f64 / 1e6,
                a.gflops,
                b.gflops
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Lm {
            corpus,
            order,
            min_count,
            model,
            out,
        } => {
            let alphabet = match model {
                Some(m) => engine::model_file::read_header(&m)?.alphabet,
                None => engine::Alphabet::default(),
            };
            let mut text = String::new();
            for c in &corpus {
                text.push_str(
                    &std::fs::read_to_string(c)
                        .with_context(|| format!("corpus {}", c.display()))?,
                );
                text.push('\n');
            }
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let mut lm = engine::lm::CharLm::train(lines.iter().copied(), alphabet.chars(), order)?;
            let dropped = lm.prune(min_count);
            lm.save(&out)?;
            println!(
                "{}-gram character LM from {} lines ({dropped} histories seen under {min_count} \
                 times dropped): {}",
                order,
                lines.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { model, onnx } => {
            let fast = engine::infer::FastRecognizer::load(&model)?;
            engine::export::onnx::write(&fast.model, &onnx)?;
            println!(
                "wrote {} ({} bytes)",
                onnx.display(),
                std::fs::metadata(&onnx).map(|m| m.len()).unwrap_or(0)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Recognize {
            model,
            format,
            threads,
            split_lines,
            decoding,
            images,
        } => {
            let model = model.path()?;
            let decoder = decoding.decoder(&model)?;
            let results = jobs::recognize_files(
                &model,
                &images,
                threads,
                split_lines,
                decoder,
                decoding.int8_lstm,
            )?;
            match format {
                OutputFormat::Text => {
                    for r in &results {
                        match r {
                            ImageResult::Ok { path, result, .. } => {
                                println!("{}\t{}", path.display(), result.text)
                            }
                            ImageResult::Failed { path, error } => {
                                eprintln!("{}: error: {error}", path.display())
                            }
                        }
                    }
                }
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
                OutputFormat::Jsonl => {
                    for r in &results {
                        println!("{}", serde_json::to_string(r)?);
                    }
                }
            }
            let failed = results
                .iter()
                .filter(|r| matches!(r, ImageResult::Failed { .. }))
                .count();
            Ok(if failed == results.len() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Eval {
            model,
            lines: cli::LabeledLines { data, limit },
            worst,
            threads,
            decoding,
            json,
        } => {
            let model = model.path()?;
            let decoder = decoding.decoder(&model)?;
            let report = jobs::eval(
                &model,
                &data,
                limit,
                worst,
                threads,
                decoder,
                decoding.int8_lstm,
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{} lines ({} skipped): CER {:.2}%  WER {:.2}%  ({:.1} ms/line)",
                    report.lines,
                    report.skipped,
                    report.cer,
                    report.wer,
                    1e3 * report.seconds / report.lines.max(1) as f64
                );
                if !report.worst.is_empty() {
                    println!("worst lines (edits | reference | recognized):");
                    for (e, r, h) in &report.worst {
                        println!("  {e:>3} | {r} | {h}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchDecode {
            model,
            lines: cli::LabeledLines { data, limit },
            widths,
            lm,
            lm_weight,
            prune,
            json,
        } => {
            let model = model.path()?;
            let lm = match lm {
                Some(p) => {
                    let lm = engine::lm::CharLm::load(&engine::shipped::resolve_lm(&p))?;
                    let weight = match lm_weight {
                        Some(w) => w,
                        None => {
                            engine::lm::default_weight(&engine::model_file::read_header(&model)?)
                        }
                    };
                    Some((std::sync::Arc::new(lm), weight))
                }
                None => None,
            };
            let options = engine::bench::decode::DecodeBenchOptions {
                model,
                data,
                limit,
                lm,
                widths,
                prunings: prune,
            };
            let report = engine::bench::decode::bench_decode(&options)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", engine::bench::decode::markdown(&report));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { files } => {
            for f in &files {
                if engine::model_file::upgrade_file(f)? {
                    println!("{}: now format 2 (checksummed)", f.display());
                } else {
                    println!("{}: already current, checksum holds", f.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchE2e {
            models,
            images,
            limit,
            decoding,
            json,
        } => {
            let mut recognizers = Vec::new();
            for path in &models {
                let mut rec = engine::infer::FastRecognizer::load(path)?;
                rec.decoder = decoding.decoder(path)?;
                if decoding.int8_lstm {
                    rec.model.quantize_lstm()?;
                }
                let name = path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                recognizers.push((name, rec));
            }
            let mut files = engine::bench::e2e::image_files(&images)?;
            if let Some(n) = limit {
                files.truncate(n);
            }
            let report = engine::bench::e2e::bench_e2e(&recognizers, &files)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let decoder = match decoding.decoder {
                    cli::DecoderArg::Greedy => "greedy".to_string(),
                    cli::DecoderArg::Beam => format!(
                        "beam {}{}",
                        decoding.beam,
                        if decoding.lm.is_some() { " + LM" } else { "" }
                    ),
                };
                print!("{}", engine::bench::e2e::markdown(&report, &decoder));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchTrain {
            presets,
            batch_size,
            steps,
            ops,
            scaling,
        } => {
            for preset in presets {
                let mut rates = Vec::new();
                for &path in &ops {
                    let options = engine::bench::train::TrainProfileOptions {
                        preset,
                        batch_size,
                        steps,
                        seed: 5,
                        ours: path == cli::TrainOps::Ours,
                    };
                    let profile = engine::bench::train::profile(&options)?;
                    println!("{}", engine::bench::train::markdown(&profile));
                    rates.push(batch_size as f64 / (profile.times.compute() / 1e3));
                }
                if let [burn, ours] = rates[..]
                    && ops == [cli::TrainOps::Burn, cli::TrainOps::Ours]
                {
                    println!(
                        "{}: our operations train at {:.2}x the lines/s of Burn's",
                        preset.name(),
                        ours / burn
                    );
                    let turns =
                        engine::bench::train::interleaved_speedup(preset, batch_size, steps, 5)?;
                    println!(
                        "{}: Burn's step time over ours, taking turns batch by batch: {turns}\n",
                        preset.name()
                    );
                }
                if let Some(threads) = scaling {
                    let turns = engine::bench::train::thread_scaling(
                        preset, batch_size, steps, 5, threads,
                    )?;
                    println!(
                        "{}: one thread's step time over {threads} threads', taking turns batch by batch: {turns}\n",
                        preset.name()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Data {
            which:
                DataCommand::Stats {
                    dir,
                    categories,
                    contributors,
                    show_skipped,
                },
        } => {
            let select = engine::data::ink::unipen::Selection {
                categories,
                contributors,
                exclude: Vec::new(),
            };
            let data = engine::data::ink::unipen::read_tree(&dir, &select)?;
            print!("{}", data.stats.report());
            for k in data.skipped.iter().take(show_skipped) {
                println!("  {k}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Data {
            which:
                DataCommand::Writers {
                    dir,
                    contributors,
                    min_lines,
                    out,
                },
        } => {
            let folders =
                engine::data::ink::export::export_writers(&dir, &contributors, min_lines, &out)?;
            for f in &folders {
                println!(
                    "{}: {} lines, {} laid out from words",
                    f.dir.display(),
                    f.lines,
                    f.word_lines
                );
            }
            println!("{} writers with at least {min_lines} lines", folders.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Data {
            which:
                DataCommand::Export {
                    dir,
                    contributors,
                    out,
                },
        } => {
            let counts = engine::data::ink::export::export_lines(&dir, &contributors, &out)?;
            for (c, n) in &counts {
                println!("{c}: {n} lines");
            }
            println!("wrote to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth {
            count,
            out,
            recipe: Some(recipe),
            valid,
            ..
        } => {
            let cfg = engine::recipe::synth_source(&recipe, valid)?;
            let n = engine::data::synth::write_samples(&cfg, count, &out)?;
            println!("wrote {n} lines to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth {
            task,
            count,
            out,
            seed,
            split,
            holdout,
            fonts,
            max_chars,
            digits,
            digit_bank,
            strokes,
            recipe: None,
            ..
        } => {
            let holdout = if holdout.is_empty() {
                engine::data::synth::fonts::shipped_holdout(task)
            } else {
                holdout
            };
            let cfg = engine::data::synth::SynthConfig {
                fonts,
                split: split.into(),
                holdout,
                seed,
                max_chars,
                digits,
                digit_bank,
                strokes,
                ..engine::data::synth::SynthConfig::new(task)
            };
            let n = engine::data::synth::write_samples(&cfg, count, &out)?;
            println!("wrote {n} lines to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { model, width } => {
            match model {
                Some(m) => print!("{}", jobs::describe_model(&m, width)?),
                None => print!(
                    "{}",
                    jobs::preset_table(
                        &engine::models::config::Preset::ALL,
                        engine::Alphabet::default().num_classes(),
                        width
                    )
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs a long job with a cancel token and the terminal progress reporter.
fn with_progress<T>(
    job: impl FnOnce(&CancelToken, engine::train::progress::Observer) -> engine::Result<T>,
) -> engine::Result<T> {
    let cancel = CancelToken::new();
    let mut reporter = Reporter::new();
    let result = job(&cancel, &mut |e| reporter.event(e));
    reporter.finish();
    result
}

/// The recipe to use: the one given, or the run's own copy when resuming.
fn recipe_arg(
    config: Option<std::path::PathBuf>,
    out: &std::path::Path,
    resume: bool,
) -> anyhow::Result<std::path::PathBuf> {
    match (config, resume) {
        (Some(p), _) => Ok(p),
        (None, true) => Ok(recipe_path(out)),
        (None, false) => anyhow::bail!("--config is required (or --resume an existing run)"),
    }
}

/// Draws training progress: a bar on a terminal, periodic log lines otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    last_eval: String,
}

impl Reporter {
    fn new() -> Self {
        Self {
            bar: None,
            last_eval: String::new(),
        }
    }

    fn say(&self, line: String) {
        match &self.bar {
            Some(b) if !b.is_hidden() => b.println(line),
            _ => eprintln!("{line}"),
        }
    }

    fn event(&mut self, e: &ProgressEvent) {
        match e {
            ProgressEvent::Phase { name, total_steps } => {
                let bar = ProgressBar::new(*total_steps as u64);
                bar.set_style(
                    ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_prefix(name.clone());
                self.bar = Some(bar);
            }
            ProgressEvent::Message(m) => self.say(m.clone()),
            ProgressEvent::Step {
                step,
                total_steps,
                losses,
                lr,
                lines_per_s,
                eta_s,
            } => {
                let l: Vec<String> = losses.iter().map(|(n, v)| format!("{n} {v:.4}")).collect();
                let msg = format!(
                    "{} lr {lr:.2e} {lines_per_s:.1} lines/s{}",
                    l.join(" "),
                    self.last_eval
                );
                if let Some(b) = &self.bar {
                    b.set_position(*step as u64);
                    b.set_message(msg.clone());
                    if b.is_hidden() && (step % 25 == 0 || step == total_steps) {
                        eprintln!("step {step}/{total_steps} {msg} eta {:.0}s", eta_s);
                    }
                }
            }
            ProgressEvent::Eval {
                step,
                cer,
                wer,
                best,
            } => {
                self.last_eval = format!(" | val CER {cer:.2}%");
                self.say(format!(
                    "step {step}: validation CER {cer:.2}% WER {wer:.2}%{}",
                    if *best { " (best)" } else { "" }
                ));
            }
            ProgressEvent::Checkpoint { .. } => {}
            ProgressEvent::Done { step, best_cer } => {
                self.say(format!(
                    "done at step {step}; best CER {}",
                    best_cer
                        .map(|c| format!("{c:.2}%"))
                        .unwrap_or_else(|| "n/a".into())
                ));
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
