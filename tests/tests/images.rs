//! Image files as print and photo workflows write them, read as their gray originals:
//! `fixtures/cmyk-line.jpg` is `fixtures/cmyk-line.png` (a crop of a shipped sample line)
//! converted to CMYK by ImageMagick (`convert cmyk-line.png -colorspace CMYK -quality 92`),
//! which stores it the way Adobe applications do (inverted CMYK, an Adobe marker).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use engine::data::image::normalize::load_gray;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

#[test]
fn a_cmyk_jpeg_reads_as_its_gray_original() {
    let want = load_gray(&fixture("cmyk-line.png")).unwrap();
    let got = load_gray(&fixture("cmyk-line.jpg")).unwrap();
    assert_eq!((got.width, got.height), (want.width, want.height));
    let n = want.pixels.len() as f32;
    let mean: f32 = got
        .pixels
        .iter()
        .zip(&want.pixels)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / n;
    // JPEG is lossy; an inverted or channel-swapped decoding would be off by far more.
    assert!(mean < 0.03, "mean difference {mean}");
    let ink = |g: &[f32]| g.iter().filter(|&&v| v < 0.5).count() as f32 / n;
    assert!((ink(&got.pixels) - ink(&want.pixels)).abs() < 0.01);
}
