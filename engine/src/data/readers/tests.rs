//! Tests of the dataset readers on small fixtures written to a scratch folder, including
//! broken entries that must be skipped and reported with file and line.

use super::{DataFormat, read_dataset};
use crate::data::dataset::LineImage;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("inkling-readers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A white image with a black bar (so it has ink).
fn write_png(path: &Path, w: u32, h: u32) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([if y > h / 3 && y < 2 * h / 3 && x > 2 && x < w - 2 {
            0
        } else {
            255
        }])
    })
    .save(path)
    .unwrap();
}

#[test]
fn folder_pairs_with_broken_entries() {
    let d = scratch("folder");
    write_png(&d.join("a.png"), 60, 20);
    std::fs::write(d.join("a.gt.txt"), "hello world\n").unwrap();
    write_png(&d.join("b.jpg"), 60, 20);
    std::fs::write(d.join("b.gt.txt"), "jpeg line").unwrap();
    std::fs::write(d.join("orphan.gt.txt"), "no image").unwrap();
    write_png(&d.join("nolabel.png"), 60, 20);
    write_png(&d.join("empty.png"), 60, 20);
    std::fs::write(d.join("empty.gt.txt"), "  \n").unwrap();
    write_png(&d.join("two.png"), 60, 20);
    std::fs::write(d.join("two.gt.txt"), "line one\nline two\n").unwrap();
    assert_eq!(
        DataFormat::detect(&d).unwrap(),
        DataFormat::Folder(d.clone())
    );
    let ds = read_dataset(&d).unwrap();
    let texts: Vec<&str> = ds.samples.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, vec!["hello world", "jpeg line"]);
    assert_eq!(ds.skipped.len(), 4, "{}", ds.summary());
    let summary = ds.summary();
    assert!(
        summary.contains("orphan.gt.txt") && summary.contains("no image"),
        "{summary}"
    );
    assert!(summary.contains("expected one"), "{summary}");
    for s in &ds.samples {
        assert!(s.image.load().is_ok());
    }
}

#[test]
fn tsv_rows_with_broken_entries() {
    let d = scratch("tsv");
    write_png(&d.join("img/x.png"), 50, 20);
    let tsv = d.join("list.tsv");
    std::fs::write(
        &tsv,
        "# comment\nimg/x.png\tthe text\n\nimg/missing.png\tlost\nno tab here\nimg/x.png\t\n",
    )
    .unwrap();
    assert_eq!(
        DataFormat::detect(&tsv).unwrap(),
        DataFormat::Tsv(tsv.clone())
    );
    let ds = read_dataset(&tsv).unwrap();
    assert_eq!(ds.samples.len(), 1);
    assert_eq!(ds.samples[0].text, "the text");
    let lines: Vec<usize> = ds.skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![4, 5, 6], "{}", ds.summary());
    assert!(ds.skipped[1].reason.contains("no tab"));
}

#[test]
fn iam_lines_with_broken_entries() {
    let d = scratch("iam");
    write_png(&d.join("lines/a01/a01-000u/a01-000u-00.png"), 80, 20);
    write_png(&d.join("lines/a01/a01-000u/a01-000u-01.png"), 80, 20);
    std::fs::write(
        d.join("lines.txt"),
        "#--- lines.txt ---\n\
         a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell\n\
         a01-000u-01 err 156 19 395 932 1850 105 nominating|any|more\n\
         a01-000u-02 ok 157 16 408 1106 1986 85 missing|image\n\
         broken line\n",
    )
    .unwrap();
    assert_eq!(DataFormat::detect(&d).unwrap(), DataFormat::Iam(d.clone()));
    let ds = read_dataset(&d).unwrap();
    let texts: Vec<&str> = ds.samples.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts,
        vec!["A MOVE to stop Mr. Gaitskell", "nominating any more"]
    );
    let lines: Vec<usize> = ds.skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![4, 5], "{}", ds.summary());
}

#[test]
fn page_xml_lines_cropped_by_polygon() {
    let d = scratch("page");
    write_png(&d.join("page.png"), 200, 100);
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
  <Page imageFilename="page.png" imageWidth="200" imageHeight="100">
    <TextRegion id="r1">
      <TextLine id="l1">
        <Coords points="10,30 190,30 190,70 10,70"/>
        <Word id="w1"><TextEquiv><Unicode>word</Unicode></TextEquiv></Word>
        <TextEquiv><Unicode>first line</Unicode></TextEquiv>
      </TextLine>
      <TextLine id="l2">
        <Coords points="10,30 190,30"/>
        <TextEquiv><Unicode>two points</Unicode></TextEquiv>
      </TextLine>
      <TextLine id="l3">
        <Coords points="10,30 190,30 190,70"/>
      </TextLine>
      <TextLine id="l4">
        <Coords points="500,500 600,500 600,600"/>
        <TextEquiv><Unicode>outside</Unicode></TextEquiv>
      </TextLine>
    </TextRegion>
  </Page>
</PcGts>"#;
    std::fs::write(d.join("page.xml"), xml).unwrap();
    std::fs::write(d.join("broken.xml"), "<PcGts><Page").unwrap();
    let ds = read_dataset(&d).unwrap();
    assert_eq!(ds.samples.len(), 1, "{}", ds.summary());
    assert_eq!(ds.samples[0].text, "first line");
    match &ds.samples[0].image {
        LineImage::Pixels(g) => assert_eq!((g.width, g.height), (180, 40)),
        other => panic!("expected pixels, got {other:?}"),
    }
    assert_eq!(ds.skipped.len(), 4, "{}", ds.summary());
    assert!(ds.summary().contains("invalid XML"));
    assert!(
        ds.skipped
            .iter()
            .any(|s| s.reason.contains("fewer than 3 points") && s.line > 0)
    );
}

#[test]
fn unreadable_and_huge_images_are_clear_errors() {
    let d = scratch("bad-images");
    let junk = d.join("junk.png");
    std::fs::write(&junk, b"definitely not a png").unwrap();
    let err = crate::data::image::normalize::load_gray(&junk)
        .unwrap_err()
        .to_string();
    assert!(err.contains("junk.png") && err.contains("decode"), "{err}");
    let wide = d.join("wide.png");
    image::GrayImage::new(20_000, 2).save(&wide).unwrap();
    let err = crate::data::image::normalize::load_gray(&wide)
        .unwrap_err()
        .to_string();
    assert!(err.contains("too large"), "{err}");
    let err = crate::data::image::normalize::load_gray(&d.join("absent.png"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.png"), "{err}");
    assert!(DataFormat::detect(&d.join("nothing")).is_err());
}

/// A line of black ink on white, as `(width, height, luma)`.
fn ink_line() -> image::GrayImage {
    image::GrayImage::from_fn(120, 40, |x, y| {
        let ink = (10..30).contains(&y) && (x % 17 < 6 || (x / 9) % 4 == 0) && x > 8 && x < 110;
        image::Luma([if ink { 0 } else { 255 }])
    })
}

/// A PNG's bytes with an `eXIf` chunk holding just an orientation tag, right after IHDR.
fn png_with_orientation(img: &image::GrayImage, orientation: u16) -> Vec<u8> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // TIFF header (big-endian), one IFD entry: tag 0x0112 (orientation), SHORT, count 1.
    let mut exif = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut chunk = (exif.len() as u32).to_be_bytes().to_vec();
    let mut typed = b"eXIf".to_vec();
    typed.extend_from_slice(&exif);
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32fast::hash(&typed).to_be_bytes());
    // Signature (8) + IHDR chunk (4 + 4 + 13 + 4).
    png.splice(33..33, chunk);
    png
}

/// The rows of the issue's table: ink on a transparent background, a rotated photo with its
/// EXIF orientation, and WebP / BMP / TIFF / GIF (and grey + alpha, 16-bit) all read as the
/// same line in PNG does.
#[test]
fn every_image_a_user_has_reads_as_its_png() {
    use crate::data::image::normalize::load_gray;
    let d = scratch("image-kinds");
    let line = ink_line();
    let png = d.join("line.png");
    line.save(&png).unwrap();
    let want = load_gray(&png).unwrap();
    assert!(want.pixels.contains(&0.0) && want.pixels.contains(&1.0));
    let same = |path: &Path| {
        let got = load_gray(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            (got.width, got.height),
            (want.width, want.height),
            "{}",
            path.display()
        );
        let diff = crate::kernels::max_abs_diff(&got.pixels, &want.pixels);
        assert!(diff < 1e-6, "{}: differs by {diff}", path.display());
    };
    for (name, format) in [
        ("line.webp", image::ImageFormat::WebP),
        ("line.bmp", image::ImageFormat::Bmp),
        ("line.tif", image::ImageFormat::Tiff),
        ("line.gif", image::ImageFormat::Gif),
    ] {
        let path = d.join(name);
        image::DynamicImage::ImageRgba8(image::DynamicImage::ImageLuma8(line.clone()).to_rgba8())
            .save_with_format(&path, format)
            .unwrap();
        same(&path);
    }
    // Black ink on a transparent background: the background is transparent black.
    let transparent = image::RgbaImage::from_fn(line.width(), line.height(), |x, y| {
        let ink = line.get_pixel(x, y)[0] == 0;
        image::Rgba([0, 0, 0, if ink { 255 } else { 0 }])
    });
    let path = d.join("transparent.png");
    transparent.save(&path).unwrap();
    same(&path);
    let grey_alpha = image::DynamicImage::ImageRgba8(transparent).to_luma_alpha16();
    let path = d.join("grey-alpha-16.png");
    grey_alpha.save(&path).unwrap();
    same(&path);
    let deep = image::DynamicImage::ImageLuma8(line.clone()).to_luma16();
    let path = d.join("deep.png");
    deep.save(&path).unwrap();
    same(&path);
    // Stored turned 90 degrees counter-clockwise, tagged "rotate 90 clockwise to show".
    let stored = image::imageops::rotate270(&line);
    let path = d.join("rotated.png");
    std::fs::write(&path, png_with_orientation(&stored, 6)).unwrap();
    same(&path);
    // And the text reads the same: normalize finds the ink of the transparent line.
    let gray = load_gray(&d.join("transparent.png")).unwrap();
    assert!(crate::data::image::normalize::normalize(&gray, 40, &png).is_ok());
}
