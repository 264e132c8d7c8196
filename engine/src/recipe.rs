//! Recipe files: JSON with an optional `"kind"` tag that names the command they are for, so
//! that a recipe given to the wrong command is refused by name rather than by a missing field.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// What a recipe is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipeKind {
    /// Supervised CTC training from scratch (`engine train`).
    Train,
    /// CTC fine-tuning of an existing model (`engine finetune`).
    Finetune,
    /// Distillation of a student from a teacher, then fine-tuning (`engine distill`).
    Distill,
    /// The distillation criteria compared (`engine experiment distill`).
    ExperimentDistill,
    /// The Tucker-decomposition baseline (`engine experiment tucker`).
    ExperimentTucker,
}

impl RecipeKind {
    /// Every kind.
    pub const ALL: [RecipeKind; 5] = [
        RecipeKind::Train,
        RecipeKind::Finetune,
        RecipeKind::Distill,
        RecipeKind::ExperimentDistill,
        RecipeKind::ExperimentTucker,
    ];

    /// The value of the `"kind"` field.
    pub fn name(self) -> &'static str {
        match self {
            RecipeKind::Train => "train",
            RecipeKind::Finetune => "finetune",
            RecipeKind::Distill => "distill",
            RecipeKind::ExperimentDistill => "experiment-distill",
            RecipeKind::ExperimentTucker => "experiment-tucker",
        }
    }

    /// The command that runs this kind.
    pub fn command(self) -> &'static str {
        match self {
            RecipeKind::Train => "engine train",
            RecipeKind::Finetune => "engine finetune",
            RecipeKind::Distill => "engine distill",
            RecipeKind::ExperimentDistill => "engine experiment distill",
            RecipeKind::ExperimentTucker => "engine experiment tucker",
        }
    }
}

/// The kind a recipe's JSON declares (`None` without a `"kind"` field).
pub fn declared_kind(path: &Path, json: &serde_json::Value) -> Result<Option<RecipeKind>> {
    let Some(kind) = json.get("kind") else {
        return Ok(None);
    };
    let name = kind.as_str().unwrap_or_default();
    RecipeKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = RecipeKind::ALL.iter().map(|k| k.name()).collect();
            Error::Config(format!(
                "{}: unknown recipe kind {kind} (expected one of {})",
                path.display(),
                names.join(", ")
            ))
        })
}

/// Reads a recipe for `kind`: its `"kind"`, when it has one, must be `kind` (the error names
/// both and the command the recipe is for); the rest must parse as `T`, whose own checks
/// (unknown fields, types) name the file.
pub fn read_recipe<T: DeserializeOwned>(path: &Path, kind: RecipeKind) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let at = |e: serde_json::Error| Error::Config(format!("{}: {e}", path.display()));
    let mut json: serde_json::Value = serde_json::from_str(&text).map_err(at)?;
    if let Some(declared) = declared_kind(path, &json)?
        && declared != kind
    {
        return Err(Error::Config(format!(
            "{}: a {} recipe (for `{}`), not a {} recipe",
            path.display(),
            declared.name(),
            declared.command(),
            kind.name()
        )));
    }
    if let Some(map) = json.as_object_mut() {
        map.remove("kind");
    }
    serde_json::from_value(json).map_err(at)
}

/// The synthetic source of a recipe file: its `data.train` (or `data.valid`) `synth` object.
pub fn synth_source(recipe: &Path, valid: bool) -> Result<crate::data::synth::SynthConfig> {
    let text = std::fs::read_to_string(recipe).map_err(|e| Error::io(recipe, e))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {e}", recipe.display())))?;
    let which = if valid { "valid" } else { "train" };
    let source = json
        .pointer(&format!("/data/{which}/synth"))
        .ok_or_else(|| {
            Error::Config(format!(
                "{}: no data.{which}.synth source (a recipe with synthetic lines)",
                recipe.display()
            ))
        })?;
    serde_json::from_value(source.clone())
        .map_err(|e| Error::Config(format!("{}: data.{which}.synth: {e}", recipe.display())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Tiny {
        steps: usize,
    }

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("inkling-recipe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_recipe_of_another_kind_is_refused_by_name() {
        let ok = write("ok.json", r#"{"kind": "finetune", "steps": 3}"#);
        assert_eq!(
            read_recipe::<Tiny>(&ok, RecipeKind::Finetune)
                .unwrap()
                .steps,
            3
        );
        let untagged = write("untagged.json", r#"{"steps": 4}"#);
        assert_eq!(
            read_recipe::<Tiny>(&untagged, RecipeKind::Train)
                .unwrap()
                .steps,
            4
        );
        let err = read_recipe::<Tiny>(&ok, RecipeKind::Distill)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a finetune recipe")
                && err.contains("engine finetune")
                && err.contains("not a distill"),
            "{err}"
        );
        let typo = write("typo.json", r#"{"kind": "fine-tune", "steps": 3}"#);
        let err = read_recipe::<Tiny>(&typo, RecipeKind::Finetune)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown recipe kind") && err.contains("finetune"),
            "{err}"
        );
        let extra = write("extra.json", r#"{"kind": "train", "steps": 3, "stpes": 4}"#);
        let err = read_recipe::<Tiny>(&extra, RecipeKind::Train)
            .unwrap_err()
            .to_string();
        assert!(err.contains("stpes"), "{err}");
    }
}
