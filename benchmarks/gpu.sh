#!/usr/bin/env bash
# Throughput benchmark on a CUDA machine: `summarize bench` at bf16 with larger counts.
#
# Usage, from a fresh checkout on a machine whose Python has torch with CUDA:
#     bash benchmarks/gpu.sh                 # 2,000 sentences, 100 articles
#     bash benchmarks/gpu.sh --articles 50   # any other `summarize bench` option
# Environment: PYTHON (default python3), OUT (JSON file, default bench-gpu.json),
# SUMMARIZE_BENCH_DIR (cache of the built random models, default ~/.cache/summarize-bench).
#
# The naive one-at-a-time loop runs on the first 200 sentences and 20 articles only (on a
# GPU it is bound by per-step overhead, so its rate does not depend on the count); the
# engine runs on all of them. Both rates are output tokens per second; the summary line
# gives the engine's articles and sentences per second.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-bench-gpu.json}

"$PYTHON" - <<'EOF'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("benchmarks/gpu.sh: this torch sees no CUDA device")
print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}", flush=True)
EOF

if ! "$PYTHON" -c "import summarize.bench" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet -e .
fi

"$PYTHON" -m summarize.bench --stage both --device cuda --dtype bfloat16 \
    --sentences 2000 --articles 100 --naive-sentences 200 --naive-articles 20 \
    --json "$OUT" "$@"

"$PYTHON" - "$OUT" <<'EOF'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
stages = report["stages"]
for name, unit in (("summarize", "articles"), ("translate", "sentences")):
    if name in stages:
        engine, naive = stages[name]["engine"], stages[name]["naive"]
        print(f"{name}: engine {engine['items_per_s']:.2f} {unit}/s "
              f"({engine['tokens_per_s']:.0f} tok/s, naive {naive['tokens_per_s']:.0f} tok/s, "
              f"x{stages[name]['ratio']}); peak GPU {engine.get('peak_gpu_mb', '?')} MB")
print(f"results: {sys.argv[1]}")
EOF
