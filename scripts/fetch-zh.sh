#!/bin/sh
# fetch-zh.sh - install the data the Chinese front-end (src/text/chinese.c) reads, into data/zh/.
#
# Upstream Bert-VITS2 v2.3's text/chinese.py segments with jieba 0.42.1, reads pinyin with pypinyin 0.53.0
# and applies text/tone_sandhi.py and text/opencpop-strict.txt. Their tables are data inside PyPI packages:
#   jieba-0.42.1.tar.gz (sdist only):   dict.txt, finalseg/prob_*.py, posseg/{char_state_tab,prob_*}.py
#   pypinyin-0.53.0 wheel:              pinyin_dict.json, phrases_dict.json
#   style-bert-vits2-2.5.0 wheel:       nlp/chinese/opencpop-strict.txt and nlp/chinese/tone_sandhi.py (the
#                                       same bytes as upstream v2.3's opencpop-strict.txt; the same two word
#                                       sets as v2.3's tone_sandhi.py, which bv2 reads the sets out of)
# We download those archives (no dependencies, nothing installed), take only those members and check each
# member's sha256. Nothing here is committed to this repository. cn2an's an2cn needs no data file: its
# numeral tables are the ten Chinese digits and the units 十百千万亿, written in src/text/zh_number.c.
#
# Usage: scripts/fetch-zh.sh [DEST]     (DEST default: data/zh under the repository)
# Idempotent and non-interactive: when every member is present with the right bytes it does nothing.
# The front-end finds the folder at data/zh, or wherever the BV2_ZH_DATA environment variable says.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$root/data/zh"}

# member name in DEST, sha256 — one line each
MEMBERS='dict.txt 7197c3211ddd98962b036cdf40324d1ea2bfaa12bd028e68faa70111a88e12a8
finalseg_prob_emit.py 27d46b1c9efe4dd148fde8be042a21be40e3562d0c7f1273f9de7abae12ebb8d
finalseg_prob_start.py 14c5706ced5cd3b42eb4873d4b88f7f52a7bdf80fbd767bc4423d361e20c5330
finalseg_prob_trans.py 54dfbc252ed71480d4f0cdfdf516ecfbe44efd0f6c3c64b158e7039f2906c91b
posseg_char_state_tab.py 9de75c6c08fcb9b72d6546fcfc7c23a6385152a5515c7cd3fad6aedd0f1c0a6c
posseg_prob_emit.py dd82a34938b4059be6026ffed621c3f7121013ae587038269ee8419bdaaada81
posseg_prob_start.py b43aaebcd8b21c2d7e9f67efaeb22c26835e47083356cba0c23ef6d9a37eb8f2
posseg_prob_trans.py 24328e8b81388f3b0eed6127f597cad8ef9f54cbd44efe1db486e0c2ddd0cbbc
pinyin_dict.json 19ac93a11b0cf2d1b42741c2956dcb8632944e87d2ebcd1ba7cc4d3a936b9fb5
phrases_dict.json d71fe97165dfd3eb9d8dff86ce5f62787d530b6b9f38c898779fcaf16d2522d1
opencpop-strict.txt d66bbb1380a8ebf17d7ace5bf4b459f3728a469eea2aaeae2aeb3969b88223ff
tone_sandhi.py 1d52de17d6e80f0ed110ca72a6189b700bbb40b8bc8b484d1ed0d44559fbbf4d'

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

all_ok=1
echo "$MEMBERS" | while read -r name sha; do
    [ -f "$dest/$name" ] && [ "$(sha_of "$dest/$name")" = "$sha" ] || exit 1
done || all_ok=0
if [ "$all_ok" = 1 ]; then
    echo "fetch-zh: $dest already present (sha256 ok)"
    exit 0
fi

for tool in unzip tar sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || { echo "fetch-zh: error: '$tool' is needed" >&2; exit 1; }
done
if command -v pip3 >/dev/null 2>&1; then PIP="pip3"
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then PIP="python3 -m pip"
else echo "fetch-zh: error: pip is needed (Debian: apt-get install python3-pip)" >&2; exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/out" "$tmp/x"

echo "fetch-zh: downloading jieba==0.42.1 (sdist), pypinyin==0.53.0, style-bert-vits2==2.5.0 (no dependencies)"
$PIP download --quiet --no-deps --no-binary=:all: "jieba==0.42.1" -d "$tmp" >&2
$PIP download --quiet --no-deps --only-binary=:all: "pypinyin==0.53.0" -d "$tmp" >&2
$PIP download --quiet --no-deps --only-binary=:all: "style-bert-vits2==2.5.0" -d "$tmp" >&2

j=jieba-0.42.1/jieba
tar -xzf "$tmp/jieba-0.42.1.tar.gz" -C "$tmp/x" "$j/dict.txt" "$j/finalseg" "$j/posseg"
cp "$tmp/x/$j/dict.txt" "$tmp/out/dict.txt"
for f in prob_emit prob_start prob_trans; do cp "$tmp/x/$j/finalseg/$f.py" "$tmp/out/finalseg_$f.py"; done
for f in char_state_tab prob_emit prob_start prob_trans; do cp "$tmp/x/$j/posseg/$f.py" "$tmp/out/posseg_$f.py"; done
wheel=$(find "$tmp" -maxdepth 1 -name "pypinyin-*.whl" | head -n 1)
unzip -p "$wheel" pypinyin/pinyin_dict.json > "$tmp/out/pinyin_dict.json"
unzip -p "$wheel" pypinyin/phrases_dict.json > "$tmp/out/phrases_dict.json"
wheel=$(find "$tmp" -maxdepth 1 -name "style_bert_vits2-*.whl" | head -n 1)
unzip -p "$wheel" style_bert_vits2/nlp/chinese/opencpop-strict.txt > "$tmp/out/opencpop-strict.txt"
unzip -p "$wheel" style_bert_vits2/nlp/chinese/tone_sandhi.py > "$tmp/out/tone_sandhi.py"

echo "$MEMBERS" | while read -r name sha; do
    got=$(sha_of "$tmp/out/$name")
    if [ "$got" != "$sha" ]; then
        echo "fetch-zh: error: $name has sha256 $got, expected $sha" >&2
        exit 1
    fi
done

mkdir -p "$dest"
# Each file is written beside its destination and renamed, so an interrupted run never leaves a partial one.
echo "$MEMBERS" | while read -r name sha; do
    cp "$tmp/out/$name" "$dest/$name.tmp.$$"
    mv -f "$dest/$name.tmp.$$" "$dest/$name"
done
rm -f "$dest/cache.bin"
echo "fetch-zh: installed $dest"
