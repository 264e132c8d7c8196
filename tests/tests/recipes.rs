//! Every recipe under `training/` is one the engine accepts as it stands: it parses as its
//! `"kind"` (which every recipe carries; strictly: an unknown field is an error), its synthetic sources build (fonts, held-out
//! names, corpus), and the shipped model files it reads exist. A recipe that rots while its
//! background run is weeks away would otherwise fail only when someone reruns it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use engine::data::synth::{Synth, SynthConfig, recipe_sources};
use engine::experiment::distill::DistillExperiment;
use engine::experiment::tucker::TuckerExperiment;
use engine::recipe::{RecipeKind, declared_kind, read_recipe};
use engine::train::config::TrainConfig;
use engine::train::distill::DistillConfig;
use engine::train::finetune::FinetuneRecipe;
use inkling_tests::assets_dir;
use std::path::{Path, PathBuf};

fn training_dir() -> PathBuf {
    assets_dir().join("../training")
}

/// Whether a pipeline of `training/pipelines/` stages a file of this name (a recipe may name
/// a model that an earlier step of its pipeline stages, before that step has run).
fn staged_by_a_pipeline(file: &Path) -> bool {
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let stem = name.trim_end_matches(".inkm");
    engine::shipped::files_with_extension(&training_dir().join("pipelines"), "sh")
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .any(|script| script.contains(&format!("$staging/{stem}.inkm")))
}

/// A model path of a recipe, relative to the repository root, must exist when it names a
/// shipped file, or be staged by a pipeline when it names a staged one (paths under `runs/`
/// are made by earlier steps of `reproduce-cpu.sh`).
fn check_model_path(recipe: &Path, file: &Path) -> Result<(), String> {
    let pending = file.starts_with("assets/models/staging") && staged_by_a_pipeline(file);
    if file.starts_with("assets") && !pending && !assets_dir().join("..").join(file).is_file() {
        return Err(format!(
            "{}: {} does not exist",
            recipe.display(),
            file.display()
        ));
    }
    Ok(())
}

/// Checks one recipe as the command its `"kind"` names would read it.
fn check_recipe(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let at = |e: serde_json::Error| format!("{}: {e}", path.display());
    let value: serde_json::Value = serde_json::from_str(&text).map_err(at)?;
    let kind = declared_kind(path, &value)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: no \"kind\" field", path.display()))?;
    let read = |e: engine::Error| e.to_string();
    match kind {
        RecipeKind::ExperimentDistill => {
            let cfg: DistillExperiment = read_recipe(path, kind).map_err(read)?;
            check_model_path(path, &cfg.teacher)?;
        }
        RecipeKind::ExperimentTucker => {
            let cfg: TuckerExperiment = read_recipe(path, kind).map_err(read)?;
            check_model_path(path, &cfg.teacher)?;
            if let Some(student) = &cfg.student {
                check_model_path(path, student)?;
            }
        }
        RecipeKind::Distill => {
            let cfg: DistillConfig = read_recipe(path, kind).map_err(read)?;
            check_model_path(path, &cfg.teacher)?;
        }
        RecipeKind::Finetune => {
            read_recipe::<FinetuneRecipe>(path, kind).map_err(read)?;
        }
        RecipeKind::Train => {
            TrainConfig::load(path).map_err(read)?;
        }
    }
    for source in recipe_sources(&value) {
        let cfg: SynthConfig = serde_json::from_value(source.clone()).map_err(at)?;
        Synth::new(&cfg).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

#[test]
fn every_training_recipe_parses_and_its_sources_build() {
    let mut checked = 0;
    let entries = engine::shipped::files_with_extension_under(&training_dir(), "json");
    let mut failures = Vec::new();
    for path in entries {
        // The scale-out comparison's results (`engine experiment scale`) live beside its
        // recipes: experiments/scale/scale-TASK.json.
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("scale-") && path.parent().is_some_and(|d| d.ends_with("scale")) {
            continue;
        }
        if let Err(e) = check_recipe(&path) {
            failures.push(e);
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 8, "only {checked} recipes under training/");
}

#[test]
fn a_recipe_with_a_typo_is_rejected_by_the_check() {
    let dir = inkling_tests::scratch("recipe-typo");
    let good = training_dir().join("recipes/archive/ocr-v1/teacher-cpu-ocr.json");
    let text = std::fs::read_to_string(&good).unwrap();
    let typo = dir.join("teacher-typo.json");
    std::fs::write(&typo, text.replace("\"holdout\"", "\"holdouts\"")).unwrap();
    assert!(check_recipe(&good).is_ok());
    let err = check_recipe(&typo).unwrap_err();
    assert!(err.contains("holdouts"), "{err}");
    let misspelt = dir.join("teacher-font.json");
    std::fs::write(&misspelt, text.replace("\"FreeMono\"", "\"FreeMonoo\"")).unwrap();
    let err = check_recipe(&misspelt).unwrap_err();
    assert!(err.contains("FreeMonoo"), "{err}");
}
