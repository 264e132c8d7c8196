//! End-to-end tests of the `engine` CLI: synthesize lines, train a tiny model, evaluate it,
//! recognize good and bad images, and refuse bad recipes and model files with clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inkling_tests::{describe, engine, scratch, synth_lines, tiny_recipe};
use std::path::Path;

#[test]
fn synth_train_eval_recognize_pipeline() {
    let dir = scratch("pipeline");
    let data = dir.join("lines");
    let out = engine(&[
        "synth",
        "--task",
        "ocr",
        "--count",
        "8",
        "--out",
        data.to_str().unwrap(),
        "--seed",
        "3",
        "--max-chars",
        "12",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let pngs = std::fs::read_dir(&data)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(pngs, 8);

    let recipe = dir.join("recipe.json");
    tiny_recipe(&recipe, &data, 10, 5);
    let run = dir.join("run");
    let out = engine(&[
        "train",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let model = run.join("train-last.inkm");
    assert!(
        model.is_file()
            && run.join("train-best.inkm").is_file()
            && run.join("train.ckpt").is_file()
    );
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 11, "{metrics}");
    assert!(
        metrics
            .lines()
            .nth(5)
            .unwrap()
            .split(',')
            .nth(4)
            .is_some_and(|v| !v.is_empty()),
        "val CER at step 5: {metrics}"
    );

    // Training again into the same folder without --resume is refused; --resume finishes at once.
    let out = engine(&[
        "train",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--resume"),
        "{}",
        describe(&out)
    );
    let out = engine(&["train", "--out", run.to_str().unwrap(), "--resume"]);
    assert!(out.status.success(), "{}", describe(&out));

    // ONNX export of the trained model; a file that is not a model is a clear error.
    let onnx = dir.join("model.onnx");
    let model_file = run.join("train-best.inkm");
    let out = engine(&[
        "export",
        "--model",
        model_file.to_str().unwrap(),
        "--onnx",
        onnx.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(std::fs::metadata(&onnx).unwrap().len() > 10_000);
    let out = engine(&[
        "export",
        "--model",
        recipe.to_str().unwrap(),
        "--onnx",
        onnx.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("model"),
        "{}",
        describe(&out)
    );

    let out = engine(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["lines"], 8);
    assert!(report["cer"].as_f64().is_some_and(|c| c >= 0.0));

    // One good image and six bad ones: a row each, exit 0.
    let good = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "png"))
        .unwrap();
    let junk = dir.join("junk.png");
    std::fs::write(&junk, b"not an image").unwrap();
    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let blank = dir.join("blank.png");
    image::GrayImage::from_pixel(120, 30, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let wide = dir.join("wide.png");
    image::GrayImage::from_pixel(50_000, 40, image::Luma([255]))
        .save(&wide)
        .unwrap();
    // A 1 px strip with a stroke in it, and an all-black image.
    let strip = dir.join("strip.png");
    let mut img = image::GrayImage::from_pixel(300, 1, image::Luma([255]));
    (10..200).for_each(|x| img.put_pixel(x, 0, image::Luma([0])));
    img.save(&strip).unwrap();
    let black = dir.join("black.png");
    image::GrayImage::from_pixel(120, 30, image::Luma([0]))
        .save(&black)
        .unwrap();
    let args = [
        "recognize",
        "--model",
        model.to_str().unwrap(),
        "--format",
        "jsonl",
        good.to_str().unwrap(),
        junk.to_str().unwrap(),
        empty.to_str().unwrap(),
        blank.to_str().unwrap(),
        wide.to_str().unwrap(),
        strip.to_str().unwrap(),
        black.to_str().unwrap(),
    ];
    let out = engine(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 7);
    assert!(
        rows[0]["text"].is_string()
            && rows[0]["confidence"].is_number()
            && rows[0]["chars"].is_array()
            && rows[0]["ms"].is_number(),
        "{:?}",
        rows[0]
    );
    for (row, what) in rows[1..].iter().zip([
        "decode",
        "decode",
        "no ink",
        "too large",
        "too small",
        "no ink",
    ]) {
        let err = row["error"].as_str().unwrap_or_default();
        assert!(err.contains(what), "expected {what:?} in {row}");
    }
    // Every image bad: non-zero exit.
    let out = engine(&[
        "recognize",
        "--model",
        model.to_str().unwrap(),
        junk.to_str().unwrap(),
        blank.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "{}", describe(&out));

    // Beam search with a character LM trained by `engine lm`: N best alternatives in JSON; an
    // LM without the beam decoder is refused.
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, "the cat sat\non the mat\n").unwrap();
    let lm = dir.join("lm.json");
    let out = engine(&[
        "lm",
        "--corpus",
        corpus.to_str().unwrap(),
        "--order",
        "3",
        "--out",
        lm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = engine(&[
        "recognize",
        "--model",
        model.to_str().unwrap(),
        "--decoder",
        "beam",
        "--lm",
        lm.to_str().unwrap(),
        "--nbest",
        "3",
        "--format",
        "jsonl",
        good.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let row: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let alts = row["alternatives"].as_array().unwrap();
    assert!(!alts.is_empty() && alts.len() <= 3, "{row}");
    assert_eq!(alts[0]["text"], row["text"]);
    let out = engine(&[
        "recognize",
        "--model",
        model.to_str().unwrap(),
        "--lm",
        lm.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--decoder beam"),
        "{}",
        describe(&out)
    );

    // A page of two lines (the brightest synthetic line, stacked twice on white paper; an
    // inverted one would make the page mostly dark): --split-lines gives a row per line, top to
    // bottom, with its box.
    let brightness = |img: &image::GrayImage| {
        img.pixels().map(|p| u64::from(p.0[0])).sum::<u64>() / u64::from(img.width() * img.height())
    };
    let a = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .map(|p| image::open(p).unwrap().to_luma8())
        .max_by_key(brightness)
        .unwrap();
    let page_path = dir.join("page.png");
    let (w, h) = (a.width() + 40, 2 * a.height() + 90);
    let mut page = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    image::imageops::overlay(&mut page, &a, 20, 30);
    image::imageops::overlay(&mut page, &a, 20, i64::from(a.height()) + 60);
    page.save(&page_path).unwrap();
    let out = engine(&[
        "recognize",
        "--model",
        model.to_str().unwrap(),
        "--split-lines",
        "--format",
        "jsonl",
        page_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["line"]["index"], 0);
    assert!(rows[0]["line"]["box"]["y1"].as_u64() <= rows[1]["line"]["box"]["y0"].as_u64());
}

#[test]
fn bad_recipes_and_model_files_are_clear_errors() {
    let dir = scratch("errors");
    let recipe = dir.join("typo.json");
    std::fs::write(&recipe, r#"{"model": {"preset": "teacher-tiny"}, "data": {"train": {"synth": {"task": "hwr"}}, "valid": {"synth": {"task": "hwr"}}},
        "optimizer": {"lr": 0.001}, "schedule": {"steps": 10, "batch_sise": 4}}"#).unwrap();
    let out = engine(&[
        "train",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        dir.join("run").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("batch_sise") && err.contains("typo.json"),
        "{err}"
    );

    let fake = dir.join("fake.inkm");
    std::fs::write(&fake, b"GIF89a this is not a model").unwrap();
    let img = dir.join("x.png");
    image::GrayImage::from_pixel(10, 10, image::Luma([0]))
        .save(&img)
        .unwrap();
    let out = engine(&[
        "recognize",
        "--model",
        fake.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an Inkling model"),
        "{}",
        describe(&out)
    );
    let out = engine(&[
        "eval",
        "--model",
        dir.join("missing.inkm").to_str().unwrap(),
        "--data",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.inkm"),
        "{}",
        describe(&out)
    );
}

#[test]
fn teacher_distill_finetune_eval_pipeline() {
    let dir = scratch("distill-pipeline");
    let data = dir.join("lines");
    let out = engine(&[
        "synth",
        "--task",
        "hwr",
        "--count",
        "8",
        "--out",
        data.to_str().unwrap(),
        "--seed",
        "5",
        "--max-chars",
        "10",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let recipe = dir.join("teacher.json");
    tiny_recipe(&recipe, &data, 6, 5);
    let teacher_run = dir.join("teacher");
    let out = engine(&[
        "train",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        teacher_run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let teacher = teacher_run.join("train-best.inkm");

    let phase =
        serde_json::json!({"steps": 4, "batch_size": 4, "eval_every": 2, "checkpoint_every": 2});
    let distill = serde_json::json!({
        "teacher": teacher,
        "student": {"preset": "student-tiny"},
        "criterion": "cnn-mah",
        "data": {"train": {"files": {"folder": data}}, "valid": {"files": {"folder": data}}, "valid_lines": 8},
        "optimizer": {"lr": 0.003},
        "schedule": phase,
        "finetune": {"optimizer": {"lr": 0.001}, "schedule": phase},
        "seed": 2
    });
    let recipe = dir.join("distill.json");
    std::fs::write(&recipe, serde_json::to_string_pretty(&distill).unwrap()).unwrap();
    let run = dir.join("student");
    // The criterion given on the command line overrides the recipe's.
    let out = engine(&[
        "distill",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--criterion",
        "softmax-ce",
        "--temperature",
        "2",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("finetune-best.inkm"),
        "{}",
        describe(&out)
    );
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(
        metrics.contains(",distill,") && metrics.contains(",finetune,"),
        "{metrics}"
    );
    let student = run.join("finetune-best.inkm");
    let out = engine(&["info", "--model", student.to_str().unwrap()]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Student"),
        "{}",
        describe(&out)
    );
    let out = engine(&[
        "eval",
        "--model",
        student.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("CER"),
        "{}",
        describe(&out)
    );

    // A student file given as the teacher, and a bad temperature: clear errors.
    let out = engine(&[
        "distill",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        dir.join("x").to_str().unwrap(),
        "--teacher",
        student.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("needs a teacher"),
        "{}",
        describe(&out)
    );
    let out = engine(&[
        "distill",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        dir.join("y").to_str().unwrap(),
        "--criterion",
        "softmax-ce",
        "--temperature=-1",
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("temperature"),
        "{}",
        describe(&out)
    );
    // Fine-tuning any model file on its own.
    let ft = serde_json::json!({
        "data": {"train": {"files": {"folder": data}}, "valid": {"files": {"folder": data}}},
        "optimizer": {"lr": 0.001}, "schedule": phase
    });
    let ft_recipe = dir.join("finetune.json");
    std::fs::write(&ft_recipe, serde_json::to_string_pretty(&ft).unwrap()).unwrap();
    let finetune = |model: &Path, out: &str| {
        let out = engine(&[
            "finetune",
            "--model",
            model.to_str().unwrap(),
            "--config",
            ft_recipe.to_str().unwrap(),
            "--out",
            dir.join(out).to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", describe(&out));
    };
    finetune(&student, "ft");

    // Widen: the widened teacher reads the lines exactly as the teacher did and fine-tunes;
    // a Tucker model or a factor below 1 is a clear error.
    let wide = dir.join("wide.inkm");
    let out = engine(&[
        "widen",
        "--model",
        teacher.to_str().unwrap(),
        "--out",
        wide.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let cer = |model: &Path| {
        let out = engine(&[
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", describe(&out));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split("CER ")
            .nth(1)
            .unwrap()
            .split('%')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(cer(&wide), cer(&teacher));
    finetune(&wide, "wide-ft");

    // Tucker: decompose the teacher, fine-tune the result with CTC, evaluate it. A student
    // given as the teacher and an energy outside (0, 1] are clear errors.
    let tucker = dir.join("tucker.inkm");
    let out = engine(&[
        "tucker",
        "--model",
        teacher.to_str().unwrap(),
        "--ranks",
        "ratio:0.5",
        "--out",
        tucker.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("first layer"));
    finetune(&tucker, "tk-ft");
    let out = engine(&[
        "eval",
        "--model",
        dir.join("tk-ft/finetune-best.inkm").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    // Refusals of both model surgeries, each by name.
    for (command, model, option, value, what) in [
        ("widen", &teacher, "--factor", "0.5", "between 1 and 16"),
        ("widen", &tucker, "--factor", "2", "Tucker"),
        ("tucker", &student, "--ranks", "v1", "expects a VGG teacher"),
        ("tucker", &teacher, "--ranks", "energy:1.5", "(0, 1]"),
    ] {
        let out = engine(&[
            command,
            "--model",
            model.to_str().unwrap(),
            option,
            value,
            "--out",
            dir.join("bad.inkm").to_str().unwrap(),
        ]);
        assert!(
            !out.status.success() && String::from_utf8_lossy(&out.stderr).contains(what),
            "{}",
            describe(&out)
        );
    }
}

/// Writes a tiny teacher for experiments and returns its path.
fn tiny_teacher(dir: &Path, data: &Path, preset: &str, steps: usize) -> std::path::PathBuf {
    let recipe = serde_json::json!({
        "model": {"preset": preset},
        "data": {"train": {"files": {"folder": data}}, "valid": {"files": {"folder": data}}, "valid_lines": 4},
        "optimizer": {"lr": 0.003},
        "schedule": {"steps": steps, "batch_size": 2, "eval_every": steps, "checkpoint_every": steps},
    });
    let path = dir.join(format!("{preset}.json"));
    std::fs::write(&path, serde_json::to_string(&recipe).unwrap()).unwrap();
    let run = dir.join(preset);
    let out = engine(&[
        "train",
        "--config",
        path.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    run.join("train-best.inkm")
}

fn experiment_recipe(
    teacher: &Path,
    student: &str,
    data: &Path,
    steps: usize,
) -> serde_json::Value {
    let phase = serde_json::json!({"optimizer": {"lr": 0.002}, "schedule": {"steps": steps, "batch_size": 2, "eval_every": steps, "checkpoint_every": steps}});
    serde_json::json!({
        "teacher": teacher,
        "student": {"preset": student},
        "data": {"train": {"files": {"folder": data}}, "valid": {"files": {"folder": data}}, "valid_lines": 4},
        "test_sets": [{"name": "lines", "source": {"files": {"folder": data}}, "lines": 4}],
        "scratch": phase, "distill": phase, "finetune": phase,
        "criteria": [{"softmax-ce": {"temperature": 2.0}}, "cnn-mah"],
        "seed": 1
    })
}

#[test]
fn distillation_experiment_writes_both_tables_and_resumes() {
    let dir = scratch("experiment");
    let data = dir.join("lines");
    synth_lines(&data, "hwr", 4, 8);
    let teacher = tiny_teacher(&dir, &data, "teacher-tiny", 4);
    let recipe = dir.join("experiment.json");
    std::fs::write(
        &recipe,
        experiment_recipe(&teacher, "student-tiny", &data, 2).to_string(),
    )
    .unwrap();
    let exp = dir.join("exp");
    let args = [
        "experiment",
        "distill",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        exp.to_str().unwrap(),
    ];
    let out = engine(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let results = std::fs::read_to_string(exp.join("results.md")).unwrap();
    assert_eq!(results.lines().count(), 2 + 4, "{results}");
    assert!(
        results.contains("VGG-DBLSTM")
            && results.contains("cnn-mah")
            && results.contains("softmax-ce(T=2)"),
        "{results}"
    );
    let analysis = std::fs::read_to_string(exp.join("analysis.csv")).unwrap();
    assert_eq!(analysis.lines().count(), 3, "{analysis}");
    // Running it again resumes every finished run instead of training again.
    let out = engine(&args);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        std::fs::read_to_string(exp.join("results.md")).unwrap(),
        results
    );

    // The same experiment with its runs trained at once by two processes (--only), then
    // evaluated by the whole command, gives the same tables.
    let split = dir.join("split");
    let with_out = |extra: &[&str]| {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a[5] = split.to_str().unwrap().to_string();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let spawn = |extra: &[&str]| {
        let a = with_out(extra);
        engine(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn(&["--only", "scratch"]));
        let b = s.spawn(|| spawn(&["--only", "cnn-mah"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success(), "{}", describe(&a));
    assert!(b.status.success(), "{}", describe(&b));
    assert!(!split.join("results.md").exists());
    assert!(split.join("cnn-mah/finetune-best.inkm").is_file());
    let bogus = spawn(&["--only", "cnn-l3"]);
    assert!(
        !bogus.status.success()
            && String::from_utf8_lossy(&bogus.stderr).contains("scratch, softmax-ce_T_2_, cnn-mah"),
        "{}",
        describe(&bogus)
    );
    let whole = spawn(&[]);
    assert!(whole.status.success(), "{}", describe(&whole));
    assert_eq!(
        std::fs::read_to_string(split.join("results.md")).unwrap(),
        results
    );
}

#[test]
fn tucker_experiment_writes_the_comparison_table_and_resumes() {
    let dir = scratch("tucker-experiment");
    let data = dir.join("lines");
    synth_lines(&data, "ocr", 4, 8);
    let teacher = tiny_teacher(&dir, &data, "teacher-tiny", 4);
    // A DarkNet trained from scratch stands in for the distilled student.
    let student = tiny_teacher(&dir, &data, "student-tiny", 2);
    let phase = serde_json::json!({"optimizer": {"lr": 0.002}, "schedule": {"steps": 2, "batch_size": 2, "eval_every": 2, "checkpoint_every": 2}});
    let recipe = serde_json::json!({
        "teacher": teacher,
        "student": student,
        "student_tucker": "ratio:0.5",
        "data": {"train": {"files": {"folder": data}}, "valid": {"files": {"folder": data}}, "valid_lines": 4},
        "test_sets": [{"name": "lines", "source": {"files": {"folder": data}}, "lines": 4}],
        "finetune": phase,
        "variants": ["ratio:0.25", "energy:0.9"],
    });
    let path = dir.join("tucker.json");
    std::fs::write(&path, recipe.to_string()).unwrap();
    let exp = dir.join("exp");
    let args = [
        "experiment",
        "tucker",
        "--config",
        path.to_str().unwrap(),
        "--out",
        exp.to_str().unwrap(),
    ];
    let out = engine(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let table = std::fs::read_to_string(exp.join("tucker.md")).unwrap();
    // Teacher, student, two Tucker teachers, the Tucker student.
    assert_eq!(table.lines().count(), 2 + 5, "{table}");
    assert!(
        table.contains("VGG-TK-DBLSTM ratio:0.25") && table.contains("Speedup"),
        "{table}"
    );
    assert!(table.contains("DarkNet-TK-DBLSTM ratio:0.5"), "{table}");
    let out = engine(&args);
    assert!(out.status.success(), "{}", describe(&out));
    // A typo in the recipe is named.
    let mut bad = recipe.clone();
    bad["variants"] = serde_json::json!(["v9"]);
    std::fs::write(&path, bad.to_string()).unwrap();
    let out = engine(&args);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("v9"),
        "{}",
        describe(&out)
    );
}

#[test]
fn paper_presets_run_the_same_pipeline() {
    let dir = scratch("paper-presets");
    let data = dir.join("lines");
    synth_lines(&data, "ocr", 2, 6);
    let teacher = tiny_teacher(&dir, &data, "teacher-paper", 1);
    let recipe = dir.join("distill.json");
    let mut r = experiment_recipe(&teacher, "student-paper", &data, 1);
    r["criterion"] = serde_json::json!("lstm-l2");
    r["optimizer"] = r["distill"]["optimizer"].clone();
    r["schedule"] = r["distill"]["schedule"].clone();
    for k in ["test_sets", "scratch", "distill", "finetune", "criteria"] {
        r.as_object_mut().unwrap().remove(k);
    }
    std::fs::write(&recipe, r.to_string()).unwrap();
    let out = engine(&[
        "distill",
        "--config",
        recipe.to_str().unwrap(),
        "--out",
        dir.join("student").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = engine(&[
        "info",
        "--model",
        dir.join("student/distill-best.inkm").to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1.48"),
        "{}",
        describe(&out)
    );
}

/// Output into a closed pipe (`engine info | head -1`) ends the program quietly: no panic
/// message on stderr.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let mut child = std::process::Command::new(inkling_tests::engine_bin())
        .arg("info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the program writes its table.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// `engine adapt` on a tiny personal folder: broken files are named and skipped, the adapted
/// model is written with the before/after scores and the guard, a killed run resumes with the
/// settings it started with, and a folder with nothing usable is a clear error.
#[test]
fn adapt_fine_tunes_on_personal_lines_and_resumes() {
    let dir = scratch("adapt-cli");
    let personal = dir.join("personal");
    synth_lines(&personal, "hwr", 8, 10);
    let base = tiny_teacher(&dir, &personal, "teacher-tiny", 3);
    std::fs::write(personal.join("broken.inkml"), "<ink><trace>1 2,").unwrap();
    std::fs::write(personal.join("blank.gt.txt"), "\n").unwrap();
    std::fs::copy(
        personal.join("hwr-0-000000.png"),
        personal.join("blank.png"),
    )
    .unwrap();
    let (out, run) = (dir.join("mine.inkm"), dir.join("run"));
    let args = |steps: &str, extra: &[&str]| {
        let mut a = vec![
            "adapt",
            "--model",
            base.to_str().unwrap(),
            "--data",
            personal.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--run",
            run.to_str().unwrap(),
            "--replay",
            "none",
            "--steps",
            steps,
            "--batch-size",
            "2",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run_engine = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        engine(&a)
    };
    let done = run_engine(args("4", &[]));
    assert!(done.status.success(), "{}", describe(&done));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr),
    );
    assert!(stdout.contains("adapted on 7 personal lines"), "{stdout}");
    assert!(stdout.contains("CER on 1 held-back lines"), "{stdout}");
    assert!(stdout.contains("guard, 100 lines"), "{stdout}");
    assert!(
        stderr.contains("broken.inkml") && stderr.contains("blank.gt.txt"),
        "{stderr}"
    );
    let header = engine::model_file::read_header(&out).unwrap();
    assert_eq!(header.provenance.adapted.unwrap().lines, 7);
    // Resuming the finished run with other arguments keeps the settings it started with.
    std::fs::remove_file(&out).unwrap();
    let again = run_engine(args("9", &["--resume"]));
    assert!(again.status.success(), "{}", describe(&again));
    assert!(out.is_file());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("adapt.json")).unwrap()).unwrap();
    assert_eq!(config["steps"], 4);
    // Personal lines alone: no replayed lines for the base's soft targets to anchor.
    assert!(config.get("soft_targets").is_none(), "{config}");
    // Nothing usable: a message, no panic.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let bad = engine(&[
        "adapt",
        "--model",
        base.to_str().unwrap(),
        "--data",
        empty.to_str().unwrap(),
        "--out",
        dir.join("x.inkm").to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("no usable personal lines"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
