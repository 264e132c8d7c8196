#!/usr/bin/env bash
# Fetch the fonts and English text that Inkling's synthetic-line generator trains on.
#
# usage: training/tools/fetch_assets.sh [OUT_ROOT]        (OUT_ROOT defaults to <repo>/assets)
#
# Writes OUT_ROOT/fonts/{hwr,hwr-extra,hwr-clean,ocr,licences,FONTS.tsv,README.md} and
#        OUT_ROOT/corpus/{english.txt,words.txt,SOURCES.md,licences}.
#
# Needs a Debian (bookworm) machine with python3 + pip, apt-get and dpkg-deb; nothing is
# installed system-wide: Debian packages are fetched with `apt-get download` and unpacked with
# `dpkg-deb -x`, PyPI wheels with `pip download` + unzip, fontTools goes into a private folder.
# Only package registries are contacted.  Fonts from the npm @fontsource/* packages are reserved
# for evaluation and must never be used here.
#
# Idempotent: re-running rewrites the same files.  Downloads are cached in $INKLING_ASSETS_WORK
# (default ${TMPDIR:-/tmp}/inkling-assets-work); delete it to force fresh downloads.
# Environment: PYTHON (default python3), SKIP_APT_UPDATE=1 to skip `apt-get update`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$(dirname "$HERE")")"
OUT="${1:-$REPO/assets}"
WORK="${INKLING_ASSETS_WORK:-${TMPDIR:-/tmp}/inkling-assets-work}"
PYTHON="${PYTHON:-python3}"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
FONTTOOLS_REQ="fonttools==4.68.0"

# PyPI wheels (pinned) with handwriting fonts (repackaged Google Fonts).
PYPI_FONTS=(
  fontpkg-caveat==2.0
  fontpkg-dancing-script==2.1
  fontpkg-great-vibes==1.103
  fontpkg-indie-flower==2.0
  fontpkg-kalam==2.1
  fontpkg-pacifico==3.1
  fontpkg-satisfy==1.1
  fontpkg-shadows-into-light==1.0
  fontpkg-yellowtail==1.2
  fontpkg-zeyada==1.2
  fontpkg-delius==1.1
  fontpkg-oleo-script==1.2
)
# Debian packages.  Which files are used from each is decided in select_fonts.py.
# (fonts-dancingscript is not fetched: same family as fontpkg-dancing-script, older.)
DEB_FONTS=(
  fonts-dkg-handwriting fonts-bwht fonts-comic-neue fonts-breip fonts-kristi
  fonts-kaushanscript fonts-leckerli-one fonts-ecolier-court fonts-cabinsketch
  fonts-havana fonts-sjfonts fonts-tlwg-purisa-otf
  fonts-lobster fonts-lobstertwo fonts-rufscript fonts-staypuft fonts-nanum-extra fonts-seto
  fonts-dustin fonts-aenigma fonts-kiloji
  fonts-dejavu-core fonts-liberation fonts-noto-core fonts-freefont-ttf
  fonts-urw-base35 fonts-texgyre
)
# fortunes-off (the offensive `off/` collection) is deliberately NOT in this list.
DEB_TEXT=(fortunes fortunes-min wordnet-base wamerican)

log() { printf '[fetch_assets] %s\n' "$*" >&2; }

mkdir -p "$WORK/debs" "$WORK/wheels" "$OUT"
WORK="$(cd "$WORK" && pwd)"
OUT="$(cd "$OUT" && pwd)"
: >"$WORK/failed.txt"
: >"$WORK/versions.tsv"

# ------------------------------------------------------------------ apt index
if [[ "${SKIP_APT_UPDATE:-0}" != 1 ]]; then
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq
  else
    log "not root: skipping apt-get update (package lists must be current)"
  fi
fi

# ------------------------------------------------------------------ Debian packages
rm -rf "$WORK/deb"
mkdir -p "$WORK/deb"
for pkg in "${DEB_FONTS[@]}" "${DEB_TEXT[@]}"; do
  shopt -s nullglob
  cached=("$WORK/debs/${pkg}_"*.deb)
  shopt -u nullglob
  if ((${#cached[@]} == 0)); then
    if ! (cd "$WORK/debs" && apt-get download -qq "$pkg" >/dev/null 2>"$WORK/apt-err.txt"); then
      log "apt-get download $pkg failed: $(tail -n1 "$WORK/apt-err.txt")"
      printf 'debian:%s (%s)\n' "$pkg" "$(tail -n1 "$WORK/apt-err.txt")" >>"$WORK/failed.txt"
      continue
    fi
    shopt -s nullglob
    cached=("$WORK/debs/${pkg}_"*.deb)
    shopt -u nullglob
  fi
  if ((${#cached[@]} != 1)); then
    log "expected exactly one cached .deb for $pkg, found ${#cached[@]}: clear $WORK/debs"
    exit 1
  fi
  dpkg-deb -x "${cached[0]}" "$WORK/deb/$pkg"
  printf 'deb\t%s\t%s\n' "$pkg" "$(dpkg-deb -f "${cached[0]}" Version)" >>"$WORK/versions.tsv"
done

# ------------------------------------------------------------------ PyPI wheels
rm -rf "$WORK/pypi"
mkdir -p "$WORK/pypi"
for req in "${PYPI_FONTS[@]}"; do
  name="${req%%==*}"
  ver="${req##*==}"
  whl_glob="${name//-/_}-${ver}-*.whl"
  shopt -s nullglob
  whl=("$WORK/wheels/"$whl_glob)
  shopt -u nullglob
  if ((${#whl[@]} == 0)); then
    if ! "$PYTHON" -m pip download -q --no-deps --only-binary=:all: -d "$WORK/wheels" "$req" \
        >/dev/null 2>"$WORK/pip-err.txt"; then
      log "pip download $req failed: $(tail -n1 "$WORK/pip-err.txt")"
      printf 'pypi:%s (%s)\n' "$req" "$(tail -n1 "$WORK/pip-err.txt")" >>"$WORK/failed.txt"
      continue
    fi
    shopt -s nullglob
    whl=("$WORK/wheels/"$whl_glob)
    shopt -u nullglob
  fi
  # a wheel is a zip file; unpack with Python so `unzip` is not needed
  "$PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "${whl[0]}" "$WORK/pypi/$name"
  version="$(sed -n 's/^Version: //p' "$WORK/pypi/$name/"*.dist-info/METADATA | head -n1)"
  printf 'pypi\t%s\t%s\n' "$name" "$version" >>"$WORK/versions.tsv"
done

# ------------------------------------------------------------------ fontTools (private, no venv needed)
if ! PYTHONPATH="$WORK/pylib" "$PYTHON" -c 'import fontTools, sys; sys.exit(fontTools.version != "4.68.0")' 2>/dev/null; then
  rm -rf "$WORK/pylib"
  "$PYTHON" -m pip install -q --disable-pip-version-check --target "$WORK/pylib" "$FONTTOOLS_REQ"
fi

# ------------------------------------------------------------------ build
PYTHONPATH="$WORK/pylib" "$PYTHON" "$HERE/select_fonts.py" --work "$WORK" --out "$OUT/fonts"
"$PYTHON" "$HERE/build_corpus.py" --work "$WORK" --out "$OUT/corpus"

if [[ -s "$WORK/failed.txt" ]]; then
  log "some downloads failed (see $OUT/fonts/README.md):"
  sed 's/^/  /' "$WORK/failed.txt" >&2
fi
log "done: $OUT"
