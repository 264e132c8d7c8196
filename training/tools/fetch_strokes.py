#!/usr/bin/env python3
"""Single-stroke (Hershey) fonts for the synthetic generator: lines drawn as pen strokes of
uniform width, like the app's canvas and whiteboard markers, instead of filled outlines.

Source: the PyPI package Hershey-Fonts 2.1.0 (MIT licence), whose module embeds the classic
Hershey font data (.jhf) as a compressed tar. This script downloads the wheel with pip, reads
that tar without importing the package, and writes the Latin single-stroke fonts below to
assets/fonts/strokes/NAME.jhf, with the licence and the Hershey acknowledgement.

usage: training/tools/fetch_strokes.py [OUT_DIR]   (default assets/fonts/strokes)
"""
import base64
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

VERSION = "2.1.0"
# Latin fonts drawn with single strokes (the "simplex", "duplex" and script families); the
# complex, gothic and symbol fonts are left out.
FONTS = ["futural", "futuram", "rowmans", "rowmand", "cursive", "scripts", "scriptc", "timesi", "timesr"]

ACKNOWLEDGEMENT = """The Hershey Fonts were originally created by Dr. A. V. Hershey while working at
the U. S. National Bureau of Standards. The format of the font data in this distribution was
originally created by James Hurt, Cognition, Inc., 900 Technology Park Drive, Billerica, MA 01821.
"""


def embedded_tar(source):
    """The font tar embedded in HersheyFonts.py: a base64 literal of a bzip2-compressed tar."""
    found = re.search(rb"__compressed_fonts_base64 = B'{3}([^']+)'{3}", source)
    if not found:
        sys.exit("fetch_strokes: no font archive found in HersheyFonts.py")
    return tarfile.open(fileobj=io.BytesIO(base64.b64decode(found.group(1))))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "assets", "fonts", "strokes")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--dest", tmp, f"Hershey-Fonts=={VERSION}"], check=True)
        wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
        with zipfile.ZipFile(wheel) as z:
            source = z.read("HersheyFonts/HersheyFonts.py")
            licence = z.read(f"Hershey_Fonts-{VERSION}.dist-info/LICENSE").decode()
    tar = embedded_tar(source)
    os.makedirs(out, exist_ok=True)
    for name in FONTS:
        data = tar.extractfile(name).read()
        with open(os.path.join(out, name + ".jhf"), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "LICENCE.txt"), "w") as f:
        f.write(f"Hershey-Fonts {VERSION} (PyPI), MIT licence:\n\n{licence}\n\nAcknowledgement:\n\n{ACKNOWLEDGEMENT}")
    print(f"wrote {len(FONTS)} fonts to {out}")


if __name__ == "__main__":
    main()
