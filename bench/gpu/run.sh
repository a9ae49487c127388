#!/usr/bin/env bash
# The GPU path measured on any GPU machine, in one command:
#
#   bench/gpu/run.sh [BINARY] [SCALE]
#
# BINARY is a release build with the `gpu` feature (default target/release/creditflow),
# SCALE the size of the standard batches (default 1). It prints the Vulkan adapters, then
# `creditflow bench`: the standard workloads (mobius-64, chat-20, chat-130, dag-32) on the
# CPU with CPU_THREADS threads (default 2, the reference machine of docs/benchmarks.md)
# and on the GPU, with their ratios; then chat-20 at 10^4 episodes on the GPU alone; the
# chat kernels side by side (workgroup-memory state, one subgroup per walk, one workgroup
# per walk); then
# `creditflow verify` (CPU and GPU field by field, DESIGN §4's tolerance) on generated
# chat-20, chat-130 and dag-32 batches and Möbius games (n = 64) with every record
# sampled, at pipeline depths 1 and 4; then `score --backend gpu` on OVERLAP_CHATS chat-20
# episodes (default 10^5) one stage at a time, in four stages, and without double
# buffering; then `creditflow bench --end-to-end` at
# E2E_SIZES episodes (default 10^5, 10^6, 10^7). It exits non-zero when a verify fails. The adapter is chosen as `score` chooses it (WGPU_BACKEND,
# WGPU_ADAPTER_NAME).
set -euo pipefail

bin=${1:-target/release/creditflow}
scale=${2:-1}
threads=${CPU_THREADS:-2}

echo "== $("$bin" --version)"
echo "== adapters"
if command -v vulkaninfo >/dev/null 2>&1; then
    vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName|driverInfo|apiVersion" || true
else
    echo "(vulkaninfo is not installed; the bench's compilation row names the adapter)"
fi
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

echo "== creditflow bench --scale $scale (CPU rows on $threads threads)"
RAYON_NUM_THREADS=$threads "$bin" bench --scale "$scale"

gpu_scale=${GPU_SCALE:-10}
echo "== chat-20 at 1024 x $gpu_scale episodes x 1024 permutations, GPU only"
"$bin" bench --scale "$gpu_scale" --backend gpu --only chat-20

# The chat kernels side by side, GPU only: the default choice (chat-20 in workgroup-memory
# state, chat-130 in one subgroup per walk where the adapter has subgroups of one size),
# then chats in one subgroup per walk, then in one workgroup per walk.
for only in chat-20 chat-130; do
    echo "== $only kernels: default | CREDITFLOW_GPU_LOCAL=0 (subgroup walk) | + CREDITFLOW_GPU_SUBGROUPS=0 (workgroup walk)"
    "$bin" bench --scale "$gpu_scale" --backend gpu --only "$only"
    CREDITFLOW_GPU_LOCAL=0 "$bin" bench --scale "$gpu_scale" --backend gpu --only "$only"
    CREDITFLOW_GPU_LOCAL=0 CREDITFLOW_GPU_SUBGROUPS=0 "$bin" bench --scale "$gpu_scale" --backend gpu --only "$only"
done

echo "== verify: CPU and GPU on the same samples"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" gen --episodes "${VERIFY_CHATS:-2000}" --agents 3 --messages 20 --topology prefix -o "$tmp/chat-20.jsonl"
"$bin" gen --episodes 58 --agents 4 --messages 130 --topology prefix -o "$tmp/chat-130.jsonl"
"$bin" gen --episodes 500 --agents 4 --messages 32 --topology dag -o "$tmp/dag-32.jsonl"
# Möbius games of 64 players, 200 terms of order <= 3 (game records, DESIGN §2.2).
python3 - "$tmp/mobius-64.jsonl" <<'PY'
import json, random, sys
rng = random.Random(0)
with open(sys.argv[1], "w") as f:
    for g in range(200):
        terms = [[rng.uniform(-1, 1), sorted(rng.sample(range(64), rng.randint(1, 3)))]
                 for _ in range(200)]
        f.write(json.dumps({"id": f"mobius-{g}", "game": {"players": 64, "terms": terms}}) + "\n")
PY
status=0
for batch in chat-20 chat-130 dag-32 mobius-64; do
    for depth in 1 4; do
        echo "-- $batch (--method permutation --samples 256 --pipeline $depth)"
        "$bin" verify "$tmp/$batch.jsonl" --method permutation --samples 256 --pipeline "$depth" || status=1
    done
done

# The overlap on the GPU: the same file scored one stage at a time (--pipeline 1), in four
# stages (the default), and in four stages with the device chunks not double-buffered.
"$bin" gen --episodes "${OVERLAP_CHATS:-100000}" --agents 3 --messages 20 --topology prefix -o "$tmp/overlap.jsonl"
for run in "--pipeline 1" "--pipeline 2" "--pipeline 2 (CREDITFLOW_GPU_OVERLAP=0)"; do
    echo "-- score --backend gpu $run"
    depth=${run#--pipeline }
    depth=${depth%% *}
    overlap=1
    case "$run" in *OVERLAP=0*) overlap=0 ;; esac
    CREDITFLOW_GPU_OVERLAP=$overlap "$bin" score "$tmp/overlap.jsonl" -o "$tmp/overlap.out.jsonl" \
        --backend gpu --pipeline "$depth" 2>&1 | grep -E "records in|stages:" || status=1
done
rm -f "$tmp/overlap.jsonl" "$tmp/overlap.out.jsonl"

# End to end: score file to file with default options on the GPU, every core and 2
# threads. 10^7 chat-20 episodes take about 23 GB as JSON Lines (plus the output): set
# E2E_DIR to a disk with room, or E2E_SIZES to fewer sizes.
for n in ${E2E_SIZES:-100000 1000000 10000000}; do
    echo "== creditflow bench --end-to-end $n"
    mkdir -p "${E2E_DIR:-$tmp}/e2e-$n"
    "$bin" bench --end-to-end "$n" --dir "${E2E_DIR:-$tmp}/e2e-$n" || status=1
    rm -rf "${E2E_DIR:-$tmp}/e2e-$n"
done
exit $status
