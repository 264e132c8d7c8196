#!/usr/bin/env python3
"""Lists which committed fonts are also published as npm `@fontsource/*` packages.

The `@fontsource/*` fonts are reserved for evaluation: no model may train on them. Many of
our fonts came from PyPI's `fontpkg-*` wheels and Debian's `fonts-*` packages, which repackage
Google Fonts, and `@fontsource` publishes the same Google Fonts: the same design under another
package name is still a reserved font. This script asks the npm registry, for every font of
`assets/fonts/FONTS.tsv`, whether `@fontsource/<family-slug>` exists (the slug is the family
name in lower case with spaces as hyphens, as fontsource names its packages; a few family
names of ours differ from the published one and are mapped by hand in ALIASES), and writes
`assets/fonts/FONTSOURCE.tsv`:

    path  family  fontsource-package-or-dash

Recipes keep the listed fonts out of training with `"exclude"` (`training/*-v3*.json`); a
test checks that those recipes exclude every listed font.

    python3 training/tools/check_fontsource.py        (contacts registry.npmjs.org only)
"""
import csv
import os
import sys
import urllib.error
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FONTS = os.path.join(ROOT, "assets", "fonts", "FONTS.tsv")
OUT = os.path.join(ROOT, "assets", "fonts", "FONTSOURCE.tsv")
# Family names in our files that fontsource publishes under another slug.
ALIASES = {
    "Lobster Two": ["lobster-two", "lobster"],
    "Ecolier_court": ["ecolier-court"],
    "DkgHandwriting": ["dkg-handwriting"],
    "NanumBarunpen": ["nanumbarunpen", "nanum-barunpen"],
    "SetoFont": ["seto", "setofont"],
    "Steve": ["steve", "stevehand"],
}


def slugs(family, path):
    base = family.lower().replace("_", " ").split()
    out = ["-".join(base)] + ALIASES.get(family, [])
    # Lobster.otf is labelled "Lobster Two" in its name table; its file name says Lobster.
    stem = os.path.splitext(os.path.basename(path))[0].lower()
    out.append(stem.split("-")[0])
    # Package names are ASCII letters, digits and hyphens; other names cannot be packages.
    ok = [x for x in out if x and all(c.isascii() and (c.isalnum() or c == "-") for c in x)]
    return list(dict.fromkeys(ok))


def exists(slug):
    url = f"https://registry.npmjs.org/@fontsource%2F{slug}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30):
            return True
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return False
        raise


def main():
    rows = []
    with open(FONTS, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            path, family = line.rstrip("\n").split("\t")[:2]
            found = next((s for s in slugs(family, path) if exists(s)), None)
            rows.append((path, family, f"@fontsource/{found}" if found else "-"))
    with open(OUT, "w", encoding="utf-8", newline="") as f:
        f.write("#path\tfamily\tfontsource\n")
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)
    listed = sum(1 for r in rows if r[2] != "-")
    print(f"{listed} of {len(rows)} fonts are also @fontsource packages: {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
