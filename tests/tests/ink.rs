//! End-to-end tests of real pen data through the `engine` CLI: a small UNIPEN tree is counted
//! (`data stats`, with what was skipped and where), exported as evaluation lines with their
//! InkML, and drawn into training lines by a recipe's UNIPEN source (`synth --recipe`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inkling_tests::{describe, engine, scratch};
use std::path::{Path, PathBuf};

/// A UNIPEN tree of one contributor `tst` (two writers, three single lines, one line over two
/// lines of writing, one segment past the last component) and one word contributor `wrd`.
fn unipen_tree(dir: &Path) -> PathBuf {
    let root = dir.join("unipen");
    let put = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    // A "word": five strokes along a line, at x offset `x`, y up.
    let word = |x: i32, y: i32| -> String {
        (0..5)
            .map(|k| {
                let x0 = x + k * 30;
                format!(
                    ".PEN_DOWN\n{x0} {y}\n{} {}\n{} {y}\n.PEN_UP\n{} {}\n",
                    x0 + 10,
                    y + 40,
                    x0 + 20,
                    x0 + 25,
                    y + 10
                )
            })
            .collect()
    };
    let mut ink = String::from(".COORD X Y\n.WRITER_ID ann\n");
    ink.push_str(&word(0, 0)); // components 0-9
    ink.push_str(&word(200, 0)); // 10-19
    ink.push_str(".WRITER_ID bob\n");
    ink.push_str(&word(0, -200)); // 20-29
    ink.push_str(&word(0, 0)); // 30-39, then a second line below: 40-49
    ink.push_str(&word(0, -100));
    put("include/tst/ink.dat", &ink);
    put(
        "data/8/tst/lines.dat",
        ".INCLUDE tst/ink.dat\n.SEGMENT TEXT 0-9 OK \"mmmm\"\n.SEGMENT TEXT 0-19 ? \"mmmm nnnn\"\n\
         .SEGMENT TEXT 20-29 OK \"a \\\"quote\\\"\"\n.SEGMENT TEXT 30-49 OK \"two lines\"\n\
         .SEGMENT TEXT 40-60 OK \"too far\"\n",
    );
    put(
        "include/wrd/ink.dat",
        &format!(".WRITER_ID cy\n{}", word(0, 0)),
    );
    put(
        "data/6/wrd/w.dat",
        ".INCLUDE wrd/ink.dat\n.SEGMENT WORD 0-9 OK \"word\"\n",
    );
    root
}

/// `engine synth --recipe RECIPE --count N --out OUT`.
fn synth_recipe(recipe: &Path, count: usize, out: &Path) -> std::process::Output {
    engine(&[
        "synth",
        "--recipe",
        recipe.to_str().unwrap(),
        "--count",
        &count.to_string(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_unipen_tree_is_counted_exported_and_drawn_into_training_lines() {
    let dir = scratch("unipen");
    let root = unipen_tree(&dir);
    let out = engine(&[
        "data",
        "stats",
        root.to_str().unwrap(),
        "--show-skipped",
        "5",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("       8         tst        3       2"),
        "{text}"
    );
    assert!(
        text.contains("       6         wrd        1       1"),
        "{text}"
    );
    assert!(text.contains("1 ranges past the last component"), "{text}");
    assert!(
        text.contains("lines.dat:6: delineation 40-60 points past"),
        "{text}"
    );
    assert!(
        text.contains("lines.dat:5: spans 2 lines of writing"),
        "{text}"
    );

    let lines = dir.join("lines");
    let out = engine(&[
        "data",
        "export",
        root.to_str().unwrap(),
        "--contributors",
        "tst",
        "--out",
        lines.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let mut names: Vec<String> = std::fs::read_dir(&lines)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(
        names.contains(&"tst-bob-0003.inkml".to_owned()),
        "{names:?}"
    );
    let gt = std::fs::read_to_string(lines.join("tst-bob-0003.gt.txt")).unwrap();
    assert_eq!(gt, "a \"quote\"\n");
    let img = image::open(lines.join("tst-ann-0002.png"))
        .unwrap()
        .to_luma8();
    // Two words side by side: wider than tall, dark ink on white.
    assert!(
        img.width() > 3 * img.height(),
        "{}x{}",
        img.width(),
        img.height()
    );
    assert!(img.pixels().any(|p| p.0[0] < 50) && img.get_pixel(0, 0).0[0] > 250);

    // A recipe's UNIPEN source draws training lines from the same tree.
    let recipe = dir.join("recipe.json");
    let json = serde_json::json!({"data": {"train": {"synth": {
        "task": "hwr", "seed": 5,
        "unipen": {"share": 1.0, "dir": root, "mix": [0.5, 0.5, 0.0]}
    }}}});
    std::fs::write(&recipe, json.to_string()).unwrap();
    let mixed = dir.join("mixed");
    let out = synth_recipe(&recipe, 12, &mixed);
    assert!(out.status.success(), "{}", describe(&out));
    let texts: Vec<String> = (0..12)
        .map(|i| {
            std::fs::read_to_string(mixed.join(format!("hwr-5-{i:06}.gt.txt")))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    // Only the tree's words and lines, composed or whole.
    for t in &texts {
        assert!(
            t.split(' ')
                .all(|w| ["mmmm", "nnnn", "a", "\"quote\"", "word"].contains(&w)),
            "{t:?}"
        );
    }
    assert!(
        texts.iter().any(|t| t == "word" || t.contains("word ")),
        "{texts:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_pen_data_gets_clear_errors() {
    let dir = scratch("unipen-bad");
    let out = engine(&["data", "stats", dir.join("nothing").to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a UNIPEN distribution"), "{err}");
    // A recipe whose UNIPEN selection is empty is refused by name.
    let root = unipen_tree(&dir);
    let recipe = dir.join("recipe.json");
    let json = serde_json::json!({"data": {"train": {"synth": {
        "task": "hwr",
        "unipen": {"share": 0.5, "dir": root, "contributors": ["nobody"]}
    }}}});
    std::fs::write(&recipe, json.to_string()).unwrap();
    let out = synth_recipe(&recipe, 4, &dir.join("x"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no UNIPEN lines or words") && err.contains("nobody"),
        "{err}"
    );
    let typo = serde_json::json!({"data": {"train": {"synth": {
        "task": "hwr", "unipen": {"share": 0.5, "contributers": ["x"]}
    }}}});
    std::fs::write(&recipe, typo.to_string()).unwrap();
    let out = synth_recipe(&recipe, 4, &dir.join("x"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("contributers"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
