#!/usr/bin/env bash
# The report at scale: generate N episodes, score them, draw the batch page, and measure
# the page's size and how long headless Chromium takes to render it.
#
#   bench/report/run.sh [N] [TOPOLOGY]      (defaults: 100000 dag)
#
# CREDITFLOW names the binary (default: target/release/creditflow, built if missing);
# CHROMIUM the browser (default: chromium). Render time is the wall time of a headless
# screenshot of the page minus that of an empty page (browser start-up and shutdown),
# the median of three runs each; `data-script-ms` is the page's own time from navigation
# to the end of its script (everything parsed), read from a DOM dump.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
TOPOLOGY=${2:-dag}
BIN=${CREDITFLOW:-target/release/creditflow}
BROWSER=${CHROMIUM:-chromium}
if [ ! -x "$BIN" ]; then
    cargo build --release
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

"$BIN" gen --episodes "$N" --agents 4 --messages 16 --topology "$TOPOLOGY" --seed 1 -o "$WORK/episodes.jsonl"
t0=$(now)
"$BIN" score "$WORK/episodes.jsonl" -o "$WORK/scored.jsonl" --backend cpu 2>/dev/null
t1=$(now)
"$BIN" report "$WORK/scored.jsonl" --input "$WORK/episodes.jsonl" -o "$WORK/batch.html"
t2=$(now)
echo '<!doctype html><html><body>x</body></html>' >"$WORK/empty.html"

shot() {
    local start end
    start=$(now)
    "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$WORK/profile" --window-size=1200,900 \
        --screenshot="$WORK/shot.png" "file://$1" >/dev/null 2>&1
    end=$(now)
    seconds "$start" "$end"
}
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
empty=(); page=()
for _ in 1 2 3; do
    empty+=("$(shot "$WORK/empty.html")")
    page+=("$(shot "$WORK/batch.html")")
done
e=$(median "${empty[@]}"); p=$(median "${page[@]}")
script_ms=$("$BROWSER" --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
    --dump-dom "file://$WORK/batch.html" 2>/dev/null | grep -o 'data-script-ms="[0-9]*"' | head -1)

echo "episodes:            $N ($TOPOLOGY, 4 agents, 16 messages)"
echo "score:               $(seconds "$t0" "$t1") s"
echo "report:              $(seconds "$t1" "$t2") s"
echo "page size:           $(wc -c <"$WORK/batch.html") bytes"
echo "headless screenshot: page $p s, empty page $e s (median of 3)"
echo "render time:         $(seconds "$e" "$p") s"
echo "in-page:             $script_ms"
