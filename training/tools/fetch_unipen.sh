#!/usr/bin/env bash
# Fill the data cache with UNIPEN train_r01_v07 (real on-line handwriting, CC BY 4.0) from the
# project's shared folder: unpacks ../shared/data/unipen/train_r01_v07-dev.tar.xz into
# data/unipen/train_r01_v07/ (git-ignored; about 480 MiB, 30,000 files). Idempotent: a cache
# that is already complete is left as it is.
#
# usage: training/tools/fetch_unipen.sh [ARCHIVE]      (ARCHIVE defaults to the shared copy)
# Environment: INKLING_DATA (default <repo>/data), the cache the engine reads.
#
# The four contributors that the shared copy leaves out (art, dar, phi, bbc) are reserved for
# evaluation: never add them from elsewhere.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARCHIVE="${1:-$REPO/../shared/data/unipen/train_r01_v07-dev.tar.xz}"
CACHE="${INKLING_DATA:-$REPO/data}/unipen"
DEST="$CACHE/train_r01_v07"
if [ -f "$DEST/.complete" ]; then
    echo "UNIPEN already in $DEST"
    exit 0
fi
[ -f "$ARCHIVE" ] || { echo "no UNIPEN archive at $ARCHIVE" >&2; exit 1; }
rm -rf "$DEST.partial"
mkdir -p "$DEST.partial"
tar -xJf "$ARCHIVE" -C "$DEST.partial"
# The archive holds CDROM-README, data/ and include/ at its top (or under one folder).
top="$DEST.partial"
if [ ! -d "$top/data" ]; then
    sub=$(find "$DEST.partial" -mindepth 2 -maxdepth 2 -type d -name data | head -1)
    [ -n "$sub" ] || { echo "$ARCHIVE: no data/ folder inside" >&2; exit 1; }
    top=$(dirname "$sub")
fi
for c in art dar phi bbc; do
    if [ -e "$top/include/$c" ] || ls -d "$top"/data/*/"$c" >/dev/null 2>&1; then
        echo "reserved contributor $c found in $ARCHIVE: refusing to cache it" >&2
        exit 1
    fi
done
cp "$(dirname "$ARCHIVE")/LICENSE" "$top/LICENSE" 2>/dev/null || true
rm -rf "$DEST"
mv "$top" "$DEST"
rm -rf "$DEST.partial"
touch "$DEST/.complete"
echo "UNIPEN cached in $DEST ($(find "$DEST" -type f | wc -l) files)"
