//! End-to-end tests of scale-out training: two `engine` processes on loopback train one tiny
//! model together (BMUF), node 0 writes the run; a node whose peer dies stops with a clear
//! error and keeps its last checkpoint; a node without a coordinator gives up clearly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inkling_tests::{assets_dir, describe, engine, engine_bin, scratch, synth_lines, tiny_recipe};
use std::path::Path;
use std::process::{Command, Stdio};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn lines_and_recipe(dir: &Path, steps: usize) -> std::path::PathBuf {
    let data = dir.join("lines");
    synth_lines(&data, "ocr", 8, 10);
    let path = dir.join("recipe.json");
    tiny_recipe(&path, &data, steps, 4);
    path
}

fn node(recipe: &Path, out: &Path, rank: usize, coordinator: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(engine_bin());
    c.args([
        "train",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .args(["--nodes", "2", "--node-rank", &rank.to_string()])
    .args([
        "--coordinator",
        coordinator,
        "--strategy",
        "bmuf",
        "--sync-every",
        "2",
    ])
    .args(if extra.is_empty() {
        &["--connect-timeout", "30"][..]
    } else {
        extra
    })
    .env("INKLING_ASSETS", assets_dir())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

#[test]
fn two_processes_on_loopback_train_one_model() {
    let dir = scratch("scale-loopback");
    let recipe = lines_and_recipe(&dir, 8);
    let coordinator = format!("127.0.0.1:{}", free_port());
    let n1 = node(&recipe, &dir.join("node1"), 1, &coordinator, &[])
        .spawn()
        .unwrap();
    let n0 = node(&recipe, &dir.join("node0"), 0, &coordinator, &[])
        .spawn()
        .unwrap();
    let (o0, o1) = (
        n0.wait_with_output().unwrap(),
        n1.wait_with_output().unwrap(),
    );
    assert!(o0.status.success(), "node 0: {}", describe(&o0));
    assert!(o1.status.success(), "node 1: {}", describe(&o1));
    // Node 0 writes the run; the other node writes no model files.
    assert!(dir.join("node0/train-best.inkm").is_file());
    assert!(dir.join("node0/train.ckpt").is_file());
    assert!(!dir.join("node1/train-best.inkm").exists());
    let csv = std::fs::read_to_string(dir.join("node0/metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9, "{csv}");
    let out = engine(&[
        "info",
        "--model",
        dir.join("node0/train-best.inkm").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_dead_peer_stops_the_run_cleanly_and_keeps_the_checkpoint() {
    let dir = scratch("scale-dead-peer");
    let recipe = lines_and_recipe(&dir, 2000);
    let coordinator = format!("127.0.0.1:{}", free_port());
    let mut n1 = node(&recipe, &dir.join("node1"), 1, &coordinator, &[])
        .spawn()
        .unwrap();
    let n0 = node(&recipe, &dir.join("node0"), 0, &coordinator, &[])
        .spawn()
        .unwrap();
    // Kill node 1 once node 0 has written its first checkpoint.
    let ckpt = dir.join("node0/train.ckpt");
    let start = std::time::Instant::now();
    while !ckpt.is_file() && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(ckpt.is_file(), "no checkpoint after 120 s");
    n1.kill().unwrap();
    let _ = n1.wait();
    let o0 = n0.wait_with_output().unwrap();
    assert!(
        !o0.status.success(),
        "node 0 should stop: {}",
        describe(&o0)
    );
    let err = String::from_utf8_lossy(&o0.stderr);
    assert!(err.contains("node 1 disconnected"), "{}", describe(&o0));
    // The last checkpoint is kept, and the run stopped long before its 2000 steps.
    assert!(ckpt.is_file());
    let csv = std::fs::read_to_string(dir.join("node0/metrics.csv")).unwrap();
    assert!(csv.lines().count() < 2000, "node 0 ran on without its peer");
}

#[test]
fn a_node_without_coordinator_gives_up_with_a_clear_error() {
    let dir = scratch("scale-no-coordinator");
    let recipe = lines_and_recipe(&dir, 4);
    let coordinator = format!("127.0.0.1:{}", free_port());
    let out = node(
        &recipe,
        &dir.join("node1"),
        1,
        &coordinator,
        &["--connect-timeout", "1"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the coordinator"),
        "{}",
        describe(&out)
    );
}

#[test]
fn one_and_two_workers_compare_on_curves() {
    let dir = scratch("scale-compare");
    let recipe = lines_and_recipe(&dir, 8);
    let train = |name: &str, extra: &[&str]| {
        let out_dir = dir.join(name);
        let mut args = vec![
            "train",
            "--config",
            recipe.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = engine(&args);
        assert!(out.status.success(), "{name}: {}", describe(&out));
        out_dir
    };
    let one = train("one", &[]);
    let two = train("two", &["--workers", "2"]);
    let json = dir.join("scale-toy.json");
    let png = dir.join("scale-toy.png");
    let out = engine(&[
        "experiment",
        "scale",
        "--run",
        &format!("one worker={}", one.display()),
        "--run",
        &format!("DDP, 2 threads={}", two.display()),
        "--json",
        json.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| DDP, 2 threads | 2 | 32 |"), "{table}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["reference"], "one worker");
    // The same recipe with the batch split: both runs see 8 x 4 lines.
    assert_eq!(v["arms"][0]["lines"], 32);
    assert_eq!(v["arms"][1]["lines"], 32);
    assert_eq!(v["arms"][1]["workers"], 2);
    assert!(v["arms"][0]["time_to_target_s"].is_number());
    assert!(dir.join("scale-toy.md").is_file());
    assert!(image::open(&png).unwrap().width() > 0);
    // A bad arm is refused with the expected form.
    let out = engine(&[
        "experiment",
        "scale",
        "--run",
        "nofolder",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NAME=RUN_FOLDER"),
        "{}",
        describe(&out)
    );
    std::fs::remove_dir_all(&dir).ok();
}
