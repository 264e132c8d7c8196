#!/usr/bin/env python3
"""Select, check and install the training fonts for Inkling.

Called by training/tools/fetch_assets.sh after it has downloaded and unpacked the
source packages into WORK:

    WORK/pypi/<dist-name>/...        unzipped wheel of fontpkg-<name>
    WORK/deb/<package>/...           `dpkg-deb -x` of a Debian package
    WORK/versions.tsv                kind<TAB>package<TAB>version (one per package)

Writes OUT (normally assets/fonts/):

    hwr/       handwriting-style fonts
    hwr-extra/ more handwriting-style fonts, added after the first recipes were published
               (recipes opt in with `synth.extra_fonts`, so the older ones still reproduce)
    hwr-clean/ more handwriting-style fonts that are not Google Fonts (none is an npm
               `@fontsource` package: FONTSOURCE.tsv), added for the clean v3 recipes
    ocr/       printed fonts
    licences/  one licence/copyright file per source package that contributed a font
    FONTS.tsv  one row per installed font (see README.md for the columns)
    README.md  short description + what was dropped and why

Every font is opened with fontTools; a font is dropped when more than
MAX_MISSING printable-ASCII characters (0x20-0x7E) are missing from its cmap
or map to an empty outline (space excepted).

NOTE: fonts from the npm @fontsource/* packages are reserved for evaluation and
must never be added here.

Requires fontTools (run it with the venv fetch_assets.sh creates).
"""
import argparse
import hashlib
import logging
import os
import shutil
import sys

from fontTools.pens.boundsPen import BoundsPen
from fontTools.pens.recordingPen import RecordingPen
from fontTools.ttLib import TTFont

MAX_MISSING = 4
MAX_TOTAL_BYTES = 14 * 1024 * 1024
# Fonts shipped cut down to Latin (big CJK fonts whose Latin glyphs are handwritten).
SUBSET_LATIN = {"NanumPen.ttf", "NanumBrush.ttf", "NanumBarunpenR.ttf", "setofont.ttf", "kiloji_p.ttf"}
LATIN_UNICODES = [*range(0x20, 0x7F), *range(0xA0, 0x180), *range(0x2010, 0x2027), 0x20AC]
EXTRAS = "éèàüñç’“”–—"

# (subdir, kind, package, path inside the unpacked package, destination file name, licence id)
# kind "pypi": path is relative to WORK/pypi/<package>/<module>/files/
# kind "deb":  path is relative to WORK/deb/<package>/
UF = "usr/share/fonts/"
FONTS = [
    # ---------------------------------------------------------------- handwriting
    ("hwr", "pypi", "fontpkg-caveat", "Caveat[wght].ttf", "Caveat-Variable.ttf", "OFL-1.1"),
    ("hwr", "pypi", "fontpkg-dancing-script", "DancingScript[wght].ttf", "DancingScript-Variable.ttf", "OFL-1.1"),
    ("hwr", "pypi", "fontpkg-great-vibes", "GreatVibes-Regular.ttf", "GreatVibes-Regular.ttf", "OFL-1.1"),
    ("hwr", "pypi", "fontpkg-indie-flower", "IndieFlower-Regular.ttf", "IndieFlower-Regular.ttf", "OFL-1.1"),
    ("hwr", "pypi", "fontpkg-kalam", "Kalam-Regular.ttf", "Kalam-Regular.ttf", "OFL-1.1"),
    ("hwr", "pypi", "fontpkg-pacifico", "Pacifico-Regular.ttf", "Pacifico-Regular.ttf", "OFL-1.1"),
    ("hwr", "pypi", "fontpkg-satisfy", "Satisfy-Regular.ttf", "Satisfy-Regular.ttf", "Apache-2.0"),
    ("hwr", "pypi", "fontpkg-shadows-into-light", "ShadowsIntoLight.ttf", "ShadowsIntoLight.ttf", "OFL-1.1"),
    ("hwr", "pypi", "fontpkg-yellowtail", "Yellowtail-Regular.ttf", "Yellowtail-Regular.ttf", "Apache-2.0"),
    ("hwr", "pypi", "fontpkg-zeyada", "Zeyada.ttf", "Zeyada.ttf", "OFL-1.1"),
    ("hwr", "deb", "fonts-dkg-handwriting", UF + "truetype/fifthhorseman/dkg.ttf", "dkg.ttf", "GPL-3.0-or-later"),
    ("hwr", "deb", "fonts-dkg-handwriting", UF + "truetype/fifthhorseman/dkgIt.ttf", "dkgIt.ttf", "GPL-3.0-or-later"),
    # Because We ... (Red Hat) handwriting fonts: miss 7-8 ASCII symbols, dropped by the check.
    ("hwr", "deb", "fonts-bwht", UF + "opentype/bwht/BecauseWeBuild-Regular.otf", "BecauseWeBuild-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-bwht", UF + "opentype/bwht/BecauseWeConnect-Regular.otf", "BecauseWeConnect-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-bwht", UF + "opentype/bwht/BecauseWeCreate-Regular.otf", "BecauseWeCreate-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-bwht", UF + "opentype/bwht/BecauseWeLearn-Regular.otf", "BecauseWeLearn-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-bwht", UF + "opentype/bwht/BecauseWeMentor-Regular.otf", "BecauseWeMentor-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-bwht", UF + "opentype/bwht/BecauseWeOrganize-Regular.otf", "BecauseWeOrganize-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-comic-neue", UF + "opentype/comic-neue/ComicNeue-Regular.otf", "ComicNeue-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-comic-neue", UF + "opentype/comic-neue/ComicNeue-Italic.otf", "ComicNeue-Italic.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-breip", UF + "truetype/breip/breipfont.ttf", "Breip.ttf", "OFL-1.0"),
    ("hwr", "deb", "fonts-kristi", UF + "truetype/kristi/Kristi.ttf", "Kristi.ttf", "OFL-1.1"),
    # fonts-dancingscript (1.2) is skipped on purpose: same family as fontpkg-dancing-script (2.1, newer).
    ("hwr", "deb", "fonts-kaushanscript", UF + "opentype/kaushanscript/KaushanScript-Regular.otf", "KaushanScript-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-leckerli-one", UF + "truetype/leckerli-one/LeckerliOne-Regular.ttf", "LeckerliOne-Regular.ttf", "OFL-1.1"),
    ("hwr", "deb", "fonts-ecolier-court", UF + "truetype/ecolier-court/Ecolier-court.ttf", "Ecolier-court.ttf", "OFL-1.1"),
    ("hwr", "deb", "fonts-cabinsketch", UF + "truetype/cabinsketch/CabinSketch-Regular.ttf", "CabinSketch-Regular.ttf", "OFL-1.1"),
    ("hwr", "deb", "fonts-havana", UF + "opentype/havana/Havana-Regular.otf", "Havana-Regular.otf", "OFL-1.1"),
    ("hwr", "deb", "fonts-sjfonts", UF + "truetype/sjfonts/SteveHand.ttf", "SteveHand.ttf", "GPL-2.0-or-later WITH Font-exception-2.0"),
    ("hwr", "deb", "fonts-sjfonts", UF + "truetype/sjfonts/Delphine.ttf", "Delphine.ttf", "GPL-2.0-or-later WITH Font-exception-2.0"),
    ("hwr", "deb", "fonts-tlwg-purisa-otf", UF + "opentype/tlwg/Purisa.otf", "Purisa.otf", "GPL-2.0-or-later WITH Font-exception-2.0"),
    # ------------------------------------------------ more handwriting (hwr-extra/), vetted by eye
    # Not taken: all-caps designs (fonts-bwht, Humor Sans, Tomson Talks, Permanent Marker: their
    # lowercase letters are small capitals), outline or blackletter designs (Femke Klaver,
    # Isabella), fonts without digits (dustin's Swift, Winks, Marked Fool).
    ("hwr-extra", "pypi", "fontpkg-delius", "Delius-Regular.ttf", "Delius-Regular.ttf", "OFL-1.1"),
    ("hwr-extra", "pypi", "fontpkg-oleo-script", "OleoScript-Regular.ttf", "OleoScript-Regular.ttf", "OFL-1.1"),
    ("hwr-extra", "deb", "fonts-lobster", UF + "opentype/lobster/lobster.otf", "Lobster.otf", "OFL-1.1"),
    ("hwr-extra", "deb", "fonts-lobstertwo", UF + "opentype/lobstertwo/LobsterTwo-Regular.otf", "LobsterTwo-Regular.otf", "OFL-1.1"),
    ("hwr-extra", "deb", "fonts-lobstertwo", UF + "opentype/lobstertwo/LobsterTwo-Italic.otf", "LobsterTwo-Italic.otf", "OFL-1.1"),
    ("hwr-extra", "deb", "fonts-rufscript", UF + "truetype/rufscript/Rufscript010.ttf", "Rufscript.ttf", "GPL-3.0-or-later WITH Font-exception-2.0"),
    ("hwr-extra", "deb", "fonts-staypuft", UF + "truetype/staypuft/StayPuft.ttf", "StayPuft.ttf", "LGPL-2.0-or-later"),
    ("hwr-extra", "deb", "fonts-dustin", UF + "truetype/dustin/Domestic_Manners.ttf", "DomesticManners.ttf", "GPL-2.0-only"),
    ("hwr-extra", "deb", "fonts-nanum-extra", UF + "truetype/nanum/NanumPen.ttf", "NanumPen.ttf", "OFL-1.1"),
    ("hwr-extra", "deb", "fonts-nanum-extra", UF + "truetype/nanum/NanumBrush.ttf", "NanumBrush.ttf", "OFL-1.1"),
    ("hwr-extra", "deb", "fonts-nanum-extra", UF + "truetype/nanum/NanumBarunpenR.ttf", "NanumBarunpenR.ttf", "OFL-1.1"),
    ("hwr-extra", "deb", "fonts-seto", UF + "truetype/seto/setofont.ttf", "setofont.ttf", "OFL-1.1"),
    # ------------------------------------------------ handwriting that is not Google Fonts (hwr-clean/)
    # For the clean v3 recipes, which never train on fonts that npm @fontsource publishes
    # (training/tools/check_fontsource.py). Brian Kent's Aenigma collection (465 fonts, mostly display
    # designs: these seven are the handwriting-like ones with digits and lowercase, picked by
    # eye on a contact sheet) and kiloji, a Japanese "longhand" font whose Latin is a neat
    # hand (proportional variant, cut down to Latin).
    ("hwr-clean", "deb", "fonts-aenigma", UF + "truetype/aenigma/aescrawl.ttf", "aescrawl.ttf", "LicenseRef-aenigma-redistribute-modify"),
    ("hwr-clean", "deb", "fonts-aenigma", UF + "truetype/aenigma/handmeds.ttf", "handmeds.ttf", "LicenseRef-aenigma-redistribute-modify"),
    ("hwr-clean", "deb", "fonts-aenigma", UF + "truetype/aenigma/jmacscrl.ttf", "jmacscrl.ttf", "LicenseRef-aenigma-redistribute-modify"),
    ("hwr-clean", "deb", "fonts-aenigma", UF + "truetype/aenigma/madscrwl.ttf", "madscrwl.ttf", "LicenseRef-aenigma-redistribute-modify"),
    ("hwr-clean", "deb", "fonts-aenigma", UF + "truetype/aenigma/rambling.ttf", "rambling.ttf", "LicenseRef-aenigma-redistribute-modify"),
    ("hwr-clean", "deb", "fonts-aenigma", UF + "truetype/aenigma/roughday.ttf", "roughday.ttf", "LicenseRef-aenigma-redistribute-modify"),
    ("hwr-clean", "deb", "fonts-aenigma", UF + "truetype/aenigma/wigsquig.ttf", "wigsquig.ttf", "LicenseRef-aenigma-redistribute-modify"),
    ("hwr-clean", "deb", "fonts-kiloji", UF + "truetype/kiloji/kiloji_p.ttf", "kiloji_p.ttf", "BSD-3-Clause"),
    # A chancery script (URW's Zapf Chancery design), for the flourished hands that the Google
    # script fonts taught the v2 models (TeX Gyre Chorus is the same design, so only one).
    ("hwr-clean", "deb", "fonts-urw-base35", UF + "opentype/urw-base35/Z003-MediumItalic.otf", "Z003-MediumItalic.otf", "AGPL-3.0-only WITH Font-exception-2.0"),
    # ---------------------------------------------------------------- printed
    ("ocr", "deb", "fonts-dejavu-core", UF + "truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf", "Bitstream-Vera"),
    ("ocr", "deb", "fonts-dejavu-core", UF + "truetype/dejavu/DejaVuSerif.ttf", "DejaVuSerif.ttf", "Bitstream-Vera"),
    ("ocr", "deb", "fonts-dejavu-core", UF + "truetype/dejavu/DejaVuSansMono.ttf", "DejaVuSansMono.ttf", "Bitstream-Vera"),
    ("ocr", "deb", "fonts-liberation", UF + "truetype/liberation/LiberationSans-Regular.ttf", "LiberationSans-Regular.ttf", "GPL-2.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-liberation", UF + "truetype/liberation/LiberationSans-Bold.ttf", "LiberationSans-Bold.ttf", "GPL-2.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-liberation", UF + "truetype/liberation/LiberationSerif-Regular.ttf", "LiberationSerif-Regular.ttf", "GPL-2.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-liberation", UF + "truetype/liberation/LiberationSerif-Italic.ttf", "LiberationSerif-Italic.ttf", "GPL-2.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-liberation", UF + "truetype/liberation/LiberationMono-Regular.ttf", "LiberationMono-Regular.ttf", "GPL-2.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-noto-core", UF + "truetype/noto/NotoSans-Regular.ttf", "NotoSans-Regular.ttf", "OFL-1.1"),
    ("ocr", "deb", "fonts-noto-core", UF + "truetype/noto/NotoSans-Bold.ttf", "NotoSans-Bold.ttf", "OFL-1.1"),
    ("ocr", "deb", "fonts-noto-core", UF + "truetype/noto/NotoSerif-Regular.ttf", "NotoSerif-Regular.ttf", "OFL-1.1"),
    ("ocr", "deb", "fonts-freefont-ttf", UF + "truetype/freefont/FreeSans.ttf", "FreeSans.ttf", "GPL-3.0-or-later WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-freefont-ttf", UF + "truetype/freefont/FreeSerif.ttf", "FreeSerif.ttf", "GPL-3.0-or-later WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-freefont-ttf", UF + "truetype/freefont/FreeMono.ttf", "FreeMono.ttf", "GPL-3.0-or-later WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-urw-base35", UF + "opentype/urw-base35/NimbusSans-Regular.otf", "NimbusSans-Regular.otf", "AGPL-3.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-urw-base35", UF + "opentype/urw-base35/NimbusRoman-Regular.otf", "NimbusRoman-Regular.otf", "AGPL-3.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-urw-base35", UF + "opentype/urw-base35/NimbusRoman-Italic.otf", "NimbusRoman-Italic.otf", "AGPL-3.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-urw-base35", UF + "opentype/urw-base35/NimbusMonoPS-Regular.otf", "NimbusMonoPS-Regular.otf", "AGPL-3.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-urw-base35", UF + "opentype/urw-base35/C059-Roman.otf", "C059-Roman.otf", "AGPL-3.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-urw-base35", UF + "opentype/urw-base35/P052-Roman.otf", "P052-Roman.otf", "AGPL-3.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-urw-base35", UF + "opentype/urw-base35/URWBookman-Light.otf", "URWBookman-Light.otf", "AGPL-3.0-only WITH Font-exception-2.0"),
    ("ocr", "deb", "fonts-texgyre", "usr/share/texmf/fonts/opentype/public/tex-gyre/texgyreheros-regular.otf", "texgyreheros-regular.otf", "GUST-Font-License"),
    ("ocr", "deb", "fonts-texgyre", "usr/share/texmf/fonts/opentype/public/tex-gyre/texgyretermes-regular.otf", "texgyretermes-regular.otf", "GUST-Font-License"),
    ("ocr", "deb", "fonts-texgyre", "usr/share/texmf/fonts/opentype/public/tex-gyre/texgyrepagella-regular.otf", "texgyrepagella-regular.otf", "GUST-Font-License"),
    ("ocr", "deb", "fonts-texgyre", "usr/share/texmf/fonts/opentype/public/tex-gyre/texgyrecursor-regular.otf", "texgyrecursor-regular.otf", "GUST-Font-License"),
]

# Packages deliberately not used (reported in README.md).
SKIPPED = {
    "fonts-dancingscript": "same family as fontpkg-dancing-script, which is newer (2.1 vs 1.2)",
}

COLUMNS = [
    "path", "family", "source", "licence", "missing_ascii", "covers_extras",
    "missing_extras", "style", "notes",
]


def name_of(font, *ids):
    table = font["name"]
    for nid in ids:
        rec = table.getName(nid, 3, 1, 0x409) or table.getName(nid, 1, 0, 0)
        if rec is None:
            rec = next((r for r in table.names if r.nameID == nid), None)
        if rec is not None:
            s = rec.toUnicode().strip()
            if s:
                return s
    return ""


def check_font(path):
    """Return a dict with coverage information; raises if the font cannot be loaded."""
    font = TTFont(path)
    cmap = font.getBestCmap() or {}
    glyphs = font.getGlyphSet()
    missing = []
    outlines = {}
    for cp in range(0x20, 0x7F):
        ch = chr(cp)
        if cp not in cmap:
            missing.append(ch)
            continue
        if cp == 0x20:
            continue
        bp = BoundsPen(glyphs)
        glyphs[cmap[cp]].draw(bp)
        if bp.bounds is None:  # mapped but empty
            missing.append(ch)
            continue
        rp = RecordingPen()
        glyphs[cmap[cp]].draw(rp)
        outlines.setdefault(repr(rp.value), []).append(ch)
    same = sorted("=".join(v) for v in outlines.values() if len(v) > 1)
    extras_missing = "".join(ch for ch in EXTRAS if ord(ch) not in cmap)
    notes = []
    if missing:
        notes.append("missing:" + "".join(missing).replace(" ", "<space>"))
    if same:
        notes.append("identical-outlines:" + ",".join(same))
    if "fvar" in font:
        axes = ",".join(f"{a.axisTag}={a.defaultValue:g}[{a.minValue:g}..{a.maxValue:g}]" for a in font["fvar"].axes)
        notes.append("variable-font default " + axes)
    return {
        "family": name_of(font, 16, 1),
        "style": name_of(font, 17, 2),
        "missing": missing,
        "extras_missing": extras_missing,
        "notes": "; ".join(notes),
    }


def subset_latin(src, dst):
    """Writes `src` cut down to LATIN_UNICODES (hinting dropped) to `dst`."""
    from fontTools import subset

    def run(drop_gasp):
        opts = subset.Options()
        opts.hinting = False
        opts.layout_features = ["*"]
        if drop_gasp:
            opts.drop_tables += ["gasp"]
        font = subset.load_font(src, opts)
        sub = subset.Subsetter(opts)
        sub.populate(unicodes=LATIN_UNICODES)
        sub.subset(font)
        subset.save_font(font, dst, opts)

    try:
        run(drop_gasp=False)
    except AssertionError:
        # kiloji's `gasp` table (a rendering hint) is malformed; the others keep theirs, so
        # that their files stay byte for byte as before.
        run(drop_gasp=True)


def read_versions(work):
    versions = {}
    with open(os.path.join(work, "versions.tsv"), encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                versions[parts[1]] = (parts[0], parts[2])
    return versions


def pypi_root(work, pkg):
    base = os.path.join(work, "pypi", pkg)
    mod = pkg.replace("-", "_")
    return os.path.join(base, mod)


def source_file(work, kind, pkg, rel):
    if kind == "pypi":
        return os.path.join(pypi_root(work, pkg), "files", rel)
    return os.path.join(work, "deb", pkg, rel)


def licence_file(work, kind, pkg):
    if kind == "pypi":
        return os.path.join(pypi_root(work, pkg), "LICENSE")
    return os.path.join(work, "deb", pkg, "usr/share/doc", pkg, "copyright")


def main():
    logging.getLogger("fontTools").setLevel(logging.ERROR)  # harmless table warnings
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True, help="output folder, e.g. assets/fonts")
    args = ap.parse_args()

    versions = read_versions(args.work)
    failed = []
    fp = os.path.join(args.work, "failed.txt")
    if os.path.exists(fp):
        with open(fp, encoding="utf-8") as fh:
            failed = [l.rstrip("\n") for l in fh if l.strip()]

    out = args.out
    os.makedirs(out, exist_ok=True)
    for sub in ("hwr", "hwr-extra", "hwr-clean", "ocr", "licences"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        os.makedirs(os.path.join(out, sub))

    rows, dropped, used_pkgs, seen_hashes = [], [], {}, {}
    for sub, kind, pkg, rel, dest, lic in FONTS:
        if pkg not in versions:
            dropped.append((f"{sub}/{dest}", f"package {pkg} not available"))
            continue
        src = source_file(args.work, kind, pkg, rel)
        if not os.path.isfile(src):
            dropped.append((f"{sub}/{dest}", f"{rel} not found in {pkg}"))
            continue
        try:
            info = check_font(src)
        except Exception as exc:  # noqa: BLE001 - any parse failure drops the font
            dropped.append((f"{sub}/{dest}", f"fontTools could not load it: {exc}"))
            continue
        if len(info["missing"]) > MAX_MISSING:
            dropped.append((f"{sub}/{dest}", f"{len(info['missing'])} printable-ASCII glyphs missing/empty: "
                            + "".join(info["missing"])))
            continue
        with open(src, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        if digest in seen_hashes:
            dropped.append((f"{sub}/{dest}", f"byte-identical to {seen_hashes[digest]}"))
            continue
        seen_hashes[digest] = f"{sub}/{dest}"
        if dest in SUBSET_LATIN:
            subset_latin(src, os.path.join(out, sub, dest))
            info["notes"] = "; ".join(n for n in ("subset to Latin", info["notes"]) if n)
        else:
            shutil.copyfile(src, os.path.join(out, sub, dest))
        used_pkgs[pkg] = kind
        pkind, ver = versions[pkg]
        source = f"{'pypi' if kind == 'pypi' else 'debian'}:{pkg} {ver}"
        rows.append([
            f"{sub}/{dest}", info["family"], source, lic, str(len(info["missing"])),
            "yes" if not info["extras_missing"] else "no",
            info["extras_missing"] or "-", info["style"], info["notes"] or "-",
        ])

    for pkg, kind in sorted(used_pkgs.items()):
        shutil.copyfile(licence_file(args.work, kind, pkg), os.path.join(out, "licences", pkg + ".txt"))

    with open(os.path.join(out, "FONTS.tsv"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("#" + "\t".join(COLUMNS) + "\n")
        for r in rows:
            assert not any("\t" in c or "\n" in c for c in r), r
            fh.write("\t".join(r) + "\n")

    total = sum(os.path.getsize(os.path.join(out, r[0])) for r in rows)
    write_readme(out, rows, dropped, failed, total)

    n_hwr = sum(r[0].startswith("hwr") for r in rows)
    print(f"fonts: {n_hwr} hwr + {len(rows) - n_hwr} ocr, {total / 1e6:.2f} MB")
    for d in dropped:
        print("  dropped", *d)
    if total > MAX_TOTAL_BYTES:
        print(f"error: fonts total {total} bytes > {MAX_TOTAL_BYTES}", file=sys.stderr)
        return 1
    return 0


def write_readme(out, rows, dropped, failed, total):
    lines = [
        "# Training fonts",
        "",
        "Generated by `training/tools/fetch_assets.sh` (via `training/tools/select_fonts.py`); do not edit by hand.",
        "",
        "* `hwr/` handwriting-style fonts, `ocr/` printed fonts; licences of every source package in `licences/`.",
        "* `hwr-extra/` more handwriting-style fonts, added later: recipes opt in with `synth.extra_fonts`,"
        " so that the recipes published before still reproduce. Big CJK fonts are cut down to Latin.",
        "* `hwr-clean/` handwriting-style fonts that are not Google Fonts (no npm `@fontsource` package), for the clean"
        " v3 recipes, which keep every font `@fontsource` publishes out of training.",
        "* Sources: PyPI wheels `fontpkg-*` (repackaged Google Fonts) and Debian bookworm `fonts-*` packages.",
        "  Fonts from the npm `@fontsource/*` packages are reserved for evaluation and are never taken from npm; but many fonts here are Google Fonts that `@fontsource` publishes too: `FONTSOURCE.tsv` (`training/tools/check_fontsource.py`) lists them, and the clean recipes (`training/*-v3*.json`) keep them out of training with `exclude`.",
        "* `FONTS.tsv` (first line is a `#` header), columns:",
        "  1. `path` relative to this folder",
        "  2. `family` (typographic family name from the font's name table)",
        "  3. `source` (`pypi:<dist> <version>` or `debian:<package> <version>`)",
        "  4. `licence` (SPDX-like id)",
        f"  5. `missing_ascii`: number of printable-ASCII chars (0x20-0x7E) absent from the cmap or mapped to an"
        f" empty outline (fonts with more than {MAX_MISSING} are dropped)",
        f"  6. `covers_extras`: `yes` if the font has all of `{EXTRAS}`",
        "  7. `missing_extras`: which of those are missing (`-` for none)",
        "  8. `style` (subfamily name)",
        "  9. `notes`: missing ASCII chars, distinct ASCII chars with identical outlines (ambiguous labels),"
        " variable-font axes (renderers without variation support get the default instance)",
        "",
        f"{len(rows)} fonts, {total} bytes in total.",
        "",
        "## Dropped / skipped",
        "",
    ]
    for path, why in dropped:
        lines.append(f"* `{path}`: {why}")
    for pkg, why in sorted(SKIPPED.items()):
        lines.append(f"* `{pkg}`: {why}")
    for f in failed:
        lines.append(f"* download failed: {f}")
    lines.append("")
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
