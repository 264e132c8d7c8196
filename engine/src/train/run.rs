//! A run: its folder, the recipe recorded in it, and how it is driven (resume, scale-out,
//! cancel). Every run function ([`super::supervised::train`], [`super::distill::distill`],
//! [`super::finetune::finetune`], [`super::adapt::adapt`]) takes one, and each of its phases
//! refers to it.

use super::progress::CancelToken;
use crate::error::{Error, Result};
use crate::scale::ScaleConfig;
use std::path::{Path, PathBuf};

/// Where a run lives and how it is driven: what every phase of a run shares.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// Run folder: `config.json` (the recipe as run), `metrics.csv`, checkpoints, model files.
    pub dir: &'a Path,
    /// The recipe's name for the models' provenance (a file of `training/`, or what the caller
    /// calls it).
    pub recipe_name: &'a str,
    /// Continue from the run's checkpoints.
    pub resume: bool,
    /// Workers, strategy and device.
    pub scale: &'a ScaleConfig,
    /// Stops the run at the next step (after a checkpoint).
    pub cancel: &'a CancelToken,
}

impl Run<'_> {
    /// Writes the recipe (and its name) into the run folder, or on resume checks it is the same
    /// run. Returns the recipe name for the models' provenance: [`Run::recipe_name`], except when a
    /// run resumes from its own copy, where it is the name the run started
    /// with, so that its models still name the recipe in `training/` and not the run's copy.
    ///
    /// The stored recipe is read back as a `T` before the comparison, so a run recorded before
    /// fields with defaults were added to its kind of recipe still resumes.
    pub fn record_recipe<T>(&self, recipe: &T) -> Result<String>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        let (run_dir, name, resume) = (self.dir, self.recipe_name, self.resume);
        std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
        let path = recipe_path(run_dir);
        let json =
            serde_json::to_string_pretty(recipe).map_err(|e| Error::Invalid(e.to_string()))?;
        if resume && path.is_file() {
            let old = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let old = serde_json::from_str::<T>(&old)
                .and_then(|r| serde_json::to_value(&r))
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            // Both sides as values of the same serializer (an f32 read back from text and one
            // converted directly differ in their last digits).
            let same = serde_json::to_value(recipe).ok() == Some(old);
            if !same {
                return Err(Error::Config(format!(
                    "{} holds another recipe than the one given; resume with the same recipe or with the run's own copy",
                    path.display()
                )));
            }
            if Path::new(name) == path {
                // A run recorded before the name was kept names its own copy.
                if let Ok(first) = std::fs::read_to_string(recipe_name_path(run_dir)) {
                    return Ok(first.trim().to_owned());
                }
            }
            return Ok(name.to_owned());
        }
        crate::model_file::write_atomic(&path, json.as_bytes())?;
        crate::model_file::write_atomic(
            &recipe_name_path(run_dir),
            format!("{name}\n").as_bytes(),
        )?;
        Ok(name.to_owned())
    }
}

/// Where a run's recipe is kept.
pub fn recipe_path(run_dir: &Path) -> PathBuf {
    run_dir.join("config.json")
}

/// Where a run keeps the name of the recipe it was started with.
pub fn recipe_name_path(run_dir: &Path) -> PathBuf {
    run_dir.join("recipe-name.txt")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::models::config::Preset;
    use crate::train::supervised::tests::{folder_recipe, scratch};

    /// Records `cfg` as a run of one worker in `dir` under `name`.
    fn recorded(
        dir: &Path,
        cfg: &crate::train::config::TrainConfig,
        name: &str,
        resume: bool,
    ) -> Result<String> {
        let run = Run {
            dir,
            recipe_name: name,
            resume,
            scale: &ScaleConfig::default(),
            cancel: &CancelToken::new(),
        };
        run.record_recipe(cfg)
    }

    #[test]
    fn a_run_recorded_before_new_recipe_fields_still_resumes() {
        let dir = scratch("record-recipe");
        let cfg = folder_recipe(&dir, Preset::TeacherTiny, 10, "abc");
        recorded(&dir, &cfg, "training/x.json", false).unwrap();
        // A run recorded before `patience` existed has none (a field with a default added since).
        let path = recipe_path(&dir);
        let mut old: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        old["schedule"].as_object_mut().unwrap().remove("patience");
        std::fs::write(&path, old.to_string()).unwrap();
        let name = recorded(&dir, &cfg, "training/x.json", true).unwrap();
        assert_eq!(name, "training/x.json");
        // Another recipe is still refused.
        let mut other = cfg.clone();
        other.seed += 1;
        let err = recorded(&dir, &other, "training/x.json", true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("another recipe"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Resuming from the run's own copy of the recipe (`--resume` without `--config`) keeps
    /// the name the run started with for its models' provenance.
    #[test]
    fn a_run_resumed_from_its_own_copy_keeps_the_recipe_name() {
        let dir = scratch("record-recipe-name");
        let cfg = folder_recipe(&dir, Preset::TeacherTiny, 10, "abc");
        let first = recorded(&dir, &cfg, "training/x.json", false).unwrap();
        assert_eq!(first, "training/x.json");
        let own = recipe_path(&dir).display().to_string();
        assert_eq!(recorded(&dir, &cfg, &own, true).unwrap(), "training/x.json");
        // A run from before the name was kept goes on naming its copy.
        std::fs::remove_file(recipe_name_path(&dir)).unwrap();
        assert_eq!(recorded(&dir, &cfg, &own, true).unwrap(), own);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
