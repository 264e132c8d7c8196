//! Every `engine` command the docs show (README.md, engine/README.md, app/README.md,
//! training/README.md, assets/models/MODELS.md) still exists as written: its subcommand and
//! each of its flags are in the command's `--help`, the recipe files it names exist, and a
//! recipe given with `--config` is of the command's kind. Commands are the lines of code blocks
//! that start with `engine ` or `$E ` (continued over `\` line ends), comments cut off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use engine::recipe::{RecipeKind, declared_kind};
use inkling_tests::{assets_dir, describe, engine};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn repo() -> PathBuf {
    assets_dir().join("..")
}

/// The documented commands of one Markdown file, as argument lists after `engine`.
fn commands(markdown: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for line in markdown.lines() {
        let code = line.trim_start();
        let line_text = match pending.take() {
            Some(start) => format!("{start} {code}"),
            None if code.starts_with("$E ") => code["$E ".len()..].to_owned(),
            None if code.starts_with("engine ") && line.starts_with("    ") => {
                code["engine ".len()..].to_owned()
            }
            None => continue,
        };
        if let Some(start) = line_text.strip_suffix('\\') {
            pending = Some(start.trim_end().to_owned());
            continue;
        }
        let without_comment = match line_text.find(" #") {
            Some(at) => &line_text[..at],
            None => &line_text[..],
        };
        let args: Vec<String> = without_comment
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !args.is_empty() {
            out.push(args);
        }
    }
    out
}

/// The subcommand words of a command (`data stats`, `experiment distill`, `train`).
fn subcommand(args: &[String]) -> Vec<String> {
    let two = matches!(args[0].as_str(), "data" | "experiment");
    args[..if two { 2 } else { 1 }.min(args.len())].to_vec()
}

/// The recipe kind a subcommand reads (the kind whose command it is).
fn kind_of(sub: &[String]) -> Option<RecipeKind> {
    let command = format!("engine {}", sub.join(" "));
    RecipeKind::ALL.into_iter().find(|k| k.command() == command)
}

#[test]
fn every_documented_command_exists_as_written() {
    let docs = [
        "README.md",
        "engine/README.md",
        "app/README.md",
        "training/README.md",
        "assets/models/MODELS.md",
    ];
    let mut help: BTreeMap<Vec<String>, String> = BTreeMap::new();
    let mut checked = 0;
    let mut failures = Vec::new();
    for doc in docs {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        for args in commands(&text) {
            let sub = subcommand(&args);
            let shown = format!("{doc}: engine {}", args.join(" "));
            let usage = help.entry(sub.clone()).or_insert_with(|| {
                let mut call: Vec<&str> = sub.iter().map(String::as_str).collect();
                call.push("--help");
                let out = engine(&call);
                if out.status.success() {
                    String::from_utf8_lossy(&out.stdout).into_owned()
                } else {
                    format!("ERROR {}", describe(&out))
                }
            });
            if usage.starts_with("ERROR") {
                failures.push(format!("{shown}: no such subcommand ({usage})"));
                continue;
            }
            for flag in args.iter().filter(|a| a.starts_with("--")) {
                let flag = flag.split('=').next().unwrap_or(flag);
                let listed = usage.match_indices(flag).any(|(at, _)| {
                    usage[at + flag.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '-'))
                });
                if !listed {
                    failures.push(format!("{shown}: {flag} is not an option"));
                }
            }
            for (i, arg) in args.iter().enumerate() {
                if !(arg.starts_with("training/") || arg.starts_with("assets/")) {
                    continue;
                }
                let path = repo().join(arg);
                if !path.exists() {
                    failures.push(format!("{shown}: {arg} does not exist"));
                    continue;
                }
                let is_config = i > 0 && args[i - 1] == "--config";
                if let (true, Some(kind)) = (is_config, kind_of(&sub)) {
                    let json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap());
                    match json.map(|v| declared_kind(&path, &v)) {
                        Ok(Ok(Some(k))) if k == kind => {}
                        other => failures.push(format!(
                            "{shown}: {arg} is not a {} recipe ({other:?})",
                            kind.name()
                        )),
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 30, "only {checked} documented commands found");
}

#[test]
fn the_command_reader_joins_continued_lines_and_cuts_comments() {
    let md = "text\n\n    engine finetune --model M \\\n        --config training/x.json --out R  # note\n    $E data stats DIR\n";
    assert_eq!(
        commands(md),
        vec![
            vec![
                "finetune",
                "--model",
                "M",
                "--config",
                "training/x.json",
                "--out",
                "R"
            ],
            vec!["data", "stats", "DIR"],
        ]
    );
    assert_eq!(subcommand(&commands(md)[1]), vec!["data", "stats"]);
}
