//! Inkling desktop program: write or load a line and see it recognized live by the compact
//! student beside the teacher.
//!
//! - [`canvas`]: strokes as vector data, drawn and rasterized;
//! - [`worker`]: the background recognition thread (latest request wins);
//! - [`models`]: finding and loading model files;
//! - [`loader`]: model loading off the UI thread;
//! - [`dialogs`]: native open/save dialogs on their own threads;
//! - [`recognize_view`]: the recognize view;
//! - [`personal`]: the lines a user keeps to personalize the student;
//! - [`personalize`]: the student adapted to those lines, with before/after scores;
//! - [`job`]: training jobs on their own thread, with progress and cancel;
//! - [`distill_view`]: distillation runs with live progress;
//! - [`settings_file`]: the settings between runs, written atomically;
//! - [`app`]: the eframe application (persistence, layout).

pub mod app;
pub mod canvas;
pub mod dialogs;
pub mod distill_view;
pub mod job;
pub mod loader;
pub mod models;
pub mod personal;
pub mod personalize;
pub mod recognize_view;
pub mod settings_file;
pub mod worker;

pub use app::InklingApp;
