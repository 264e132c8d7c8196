//! The fuzzers' seed corpus, written by generators so that it can be rebuilt (`fuzz seed`):
//! small valid inputs of every format each target reads.

use crate::fuzz::corpus_dir;
use engine::burn::prelude::Device;

/// Writes every target's seeds.
pub fn write_all() {
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("corpus folder");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    };
    // Images: a short line of ink in several formats and forms.
    let line = image::GrayImage::from_fn(48, 16, |x, y| {
        image::Luma([if (4..12).contains(&y) && x % 7 < 3 {
            0
        } else {
            255
        }])
    });
    let encode = |img: &image::DynamicImage, format: image::ImageFormat| {
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), format)
            .expect("encode seed");
        out
    };
    let gray = image::DynamicImage::ImageLuma8(line.clone());
    let rgba = image::DynamicImage::ImageRgba8(gray.to_rgba8());
    put("image", "line.png", &encode(&gray, image::ImageFormat::Png));
    put(
        "image",
        "line.jpg",
        &encode(&gray, image::ImageFormat::Jpeg),
    );
    put("image", "line.bmp", &encode(&rgba, image::ImageFormat::Bmp));
    put("image", "line.gif", &encode(&rgba, image::ImageFormat::Gif));
    put(
        "image",
        "line.tif",
        &encode(&gray, image::ImageFormat::Tiff),
    );
    put(
        "image",
        "line.webp",
        &encode(&rgba, image::ImageFormat::WebP),
    );
    put(
        "image",
        "line-alpha16.png",
        &encode(
            &image::DynamicImage::ImageLumaA16(gray.to_luma_alpha16()),
            image::ImageFormat::Png,
        ),
    );
    // A model file: the tiny student, half precision.
    let cfg = engine::CrnnConfig::preset(
        engine::Preset::StudentTiny,
        engine::Alphabet::new("ab ")
            .expect("alphabet")
            .num_classes(),
    );
    let header = engine::model_file::ModelHeader {
        role: engine::model_file::Role::Student,
        config: cfg.clone(),
        alphabet: engine::Alphabet::new("ab ").expect("alphabet"),
        half: true,
        provenance: engine::model_file::Provenance::default(),
    };
    let model = cfg.init_seeded(&Device::flex(), 1);
    put(
        "model",
        "student-tiny.inkm",
        &engine::model_file::to_bytes(&model, &header).expect("model bytes"),
    );
    // LMs: plain and gzip-compressed (the binary format).
    let lm = engine::lm::CharLm::train(["the cat", "a hat"], &['a', 'c', 'e', h(), 't', ' '], 3)
        .expect("lm");
    let dir = std::env::temp_dir().join(format!("inkling-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp");
    for name in ["tiny.lm", "tiny.lm.gz"] {
        lm.save(&dir.join(name)).expect("save lm");
        put("lm", name, &std::fs::read(dir.join(name)).expect("read lm"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    put(
        "unipen",
        "segments.dat",
        b".VERSION 1.0\n.COORD X Y T\n.X_POINTS_PER_INCH 100\n.Y_POINTS_PER_INCH 100\n\
          .WRITER_ID w1\n.PEN_DOWN\n0 100 0\n10 100 1\n20 110 2\n.PEN_UP\n20 110 3\n\
          .PEN_DOWN\n30 100 4\n40 90 5\n.PEN_UP\n.SEGMENT TEXT 0-2 OK \"say \\\"hi\\\"\"\n\
          .SEGMENT WORD 0:1-2 ? \"hi\"\n.START_SET s2\n.PEN_DOWN\n1 2\n.PEN_UP\n\
          .SEGMENT CHARACTER 0 OK \"a\"\n",
    );
    put(
        "inkml",
        "trace.inkml",
        br#"<ink xmlns="http://www.w3.org/2003/InkML">
  <traceFormat><channel name="X"/><channel name="Y"/><channel name="F"/></traceFormat>
  <annotation type="truth">hi</annotation>
  <traceGroup>
    <trace>10 0 512, '5 '1 1024, "0 "0 0</trace>
    <trace>1-2 0,2-3 0</trace>
  </traceGroup>
</ink>"#,
    );
    put(
        "pagexml",
        "page.xml",
        br#"<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
  <Page imageFilename="page.png" imageWidth="100" imageHeight="40">
    <TextRegion id="r1"><TextLine id="l1"><Coords points="0,0 90,0 90,30 0,30"/>
      <TextEquiv><Unicode>ab ab</Unicode></TextEquiv></TextLine></TextRegion>
  </Page>
</PcGts>"#,
    );
    put(
        "iam",
        "lines.txt",
        b"#--- IAM lines.txt ---\na01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop\n\
          a01-000u-01 err 156 19 395 932 1850 105 nominating|any|more\n",
    );
    put(
        "tsv",
        "list.tsv",
        b"images/a.png\tab ab\nimages/b.png\tba\n# a comment\nno-tab-here\n",
    );
}

/// The letter h (kept out of the character list literal, which rustfmt would reflow).
fn h() -> char {
    'h'
}
