//! The models that ship in `assets/models/`: which file serves a task and a role when the user
//! names none (`engine recognize` and `engine eval` without `--model`).
//!
//! Shipped files are named `<task>-<role>-<preset>.inkm` (`hwr-student-cpu.inkm`); the role is
//! read from each file's header, the task from its name's prefix. Among several candidates the
//! first by name wins, as in the desktop program.

use crate::assets::assets_dir;
use crate::model_file::{Role, read_header};
use crate::task::Task;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The shipped models' folder (`assets/models/`, or `$INKLING_ASSETS/models`).
pub fn models_dir() -> PathBuf {
    assets_dir().join("models")
}

/// The files of `dir` with extension `extension`, sorted by name (none when `dir` is
/// unreadable).
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == extension))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The files of `dir` and of every folder below it whose extension is `extension`, sorted (none
/// for a folder that cannot be read).
pub fn files_with_extension_under(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = files_with_extension(dir, extension);
    for sub in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if sub.path().is_dir() {
            found.extend(files_with_extension_under(&sub.path(), extension));
        }
    }
    found.sort();
    found
}

/// The shipped model of `task` with `role` in `dir`: the first `<task>-*.inkm` file by name
/// whose header says `role`. The error lists what the folder holds.
pub fn find_in(dir: &Path, task: Task, role: Role) -> Result<PathBuf> {
    let files = files_with_extension(dir, "inkm");
    let is_task = |p: &PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&format!("{}-", task.name())))
    };
    if let Some(found) = files
        .iter()
        .filter(|p| is_task(p))
        .find(|p| read_header(p).is_ok_and(|h| h.role == role))
    {
        return Ok(found.clone());
    }
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    Err(Error::Invalid(format!(
        "no shipped {} {} model in {} (it holds: {}); name a model file with --model",
        task.name(),
        format!("{role:?}").to_lowercase(),
        dir.display(),
        if names.is_empty() {
            "no .inkm files".to_string()
        } else {
            names.join(", ")
        }
    )))
}

/// [`find_in`] the shipped models' folder.
pub fn find(task: Task, role: Role) -> Result<PathBuf> {
    find_in(&models_dir(), task, role)
}

/// File name of the shipped character language model (`training/pipelines/lm-independent.sh`): a
/// 7-gram of English prose and written numbers (histories seen once dropped), for beam search
/// (`--lm shipped`, and the desktop program's "Language model" switch).
pub const LM_FILE: &str = "english.lm.gz";

/// The shipped character language model's path (it may be missing in a custom assets folder).
pub fn lm_path() -> PathBuf {
    models_dir().join(LM_FILE)
}

/// Resolves an `--lm` argument: the word `shipped` names [`lm_path`] (unless a file of that
/// name exists in the working folder); anything else is a path.
pub fn resolve_lm(arg: &Path) -> PathBuf {
    if arg == Path::new("shipped") && !arg.exists() {
        lm_path()
    } else {
        arg.to_path_buf()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The shipped hwr student and teacher are found by task and role; a task with no model of
    /// that role is a clear error naming the folder's files.
    #[test]
    fn finds_the_shipped_models_by_task_and_role() {
        let dir = models_dir();
        let student = find_in(&dir, Task::Hwr, Role::Student).unwrap();
        assert_eq!(read_header(&student).unwrap().role, Role::Student);
        assert!(
            student
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("hwr-")
        );
        let teacher = find_in(&dir, Task::Hwr, Role::Teacher).unwrap();
        assert_eq!(read_header(&teacher).unwrap().role, Role::Teacher);
        let err = find_in(&dir, Task::Hwr, Role::Tucker)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no shipped hwr tucker model") && err.contains("hwr-student-cpu.inkm")
        );
        let empty = std::env::temp_dir().join(format!("inkling-shipped-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let err = find_in(&empty, Task::Ocr, Role::Student)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no .inkm files"), "{err}");
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
