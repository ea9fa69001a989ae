#!/usr/bin/env bash
# Throughput benchmark on a CUDA machine: `summarize bench` at bf16 with larger counts, with
# the CTranslate2 engine beside the torch one (int8_float16, then float16); then the whole
# run (`benchmarks/gpu_pipeline.py`: summarize batch in each --overlap mode, articles/s,
# output tokens/s and the GPU's busy fraction from nvidia-smi). PIPELINE=0 skips that part;
# PIPELINE_ARTICLES sets its article count (default 1000).
#
# Usage, from a fresh checkout on a machine whose Python has torch with CUDA:
#     bash benchmarks/gpu.sh                 # 2,000 sentences, 100 articles
#     bash benchmarks/gpu.sh --articles 50   # any other `summarize bench` option
# Environment: PYTHON (default python3), OUT (JSON file, default bench-gpu.json; the float16
# CTranslate2 run writes ${OUT%.json}-ct2-float16.json), CT2=0 to skip CTranslate2,
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

CT2=${CT2:-1}
if ! "$PYTHON" -c "import summarize.devtools.bench" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet -e .
fi
BACKENDS=torch
if [ "$CT2" = 1 ]; then
    if ! "$PYTHON" -c "import ctranslate2" 2>/dev/null; then
        "$PYTHON" -m pip install --quiet 'ctranslate2>=4.7'
    fi
    BACKENDS=torch,ct2
fi

# naive loop, torch engine (bf16), CTranslate2 int8_float16 and (for the agreement) float32
"$PYTHON" -m summarize.devtools.bench --stage both --device cuda --dtype bfloat16 \
    --backend "$BACKENDS" --quantization int8_float16 \
    --sentences 2000 --articles 100 --naive-sentences 200 --naive-articles 20 \
    --json "$OUT" "$@"
OUTS=("$OUT")
if [ "$CT2" = 1 ]; then
    # CTranslate2 float16 (its float32 agreement run comes with it); the naive loop again
    # on a small prefix only, so that the x-naive column is from the same run
    OUT16="${OUT%.json}-ct2-float16.json"
    "$PYTHON" -m summarize.devtools.bench --stage both --device cuda --backend ct2 \
        --quantization float16 --sentences 2000 --articles 100 --naive-sentences 50 \
        --naive-articles 5 --json "$OUT16" "$@"
    OUTS+=("$OUT16")
fi

"$PYTHON" - "${OUTS[@]}" <<'EOF'
import json
import sys

for path in sys.argv[1:]:
    report = json.load(open(path, encoding="utf-8"))
    stages = report["stages"]
    for name, unit in (("summarize", "articles"), ("translate", "sentences")):
        if name not in stages:
            continue
        st = stages[name]
        naive = st["naive"]
        for side in ("torch", "ct2", "ct2_float32"):
            if side not in st:
                continue
            r = st[side]
            print(f"{name} {side} {r.get('dtype', '')}: {r['items_per_s']:.2f} {unit}/s "
                  f"({r['tokens_per_s']:.0f} tok/s, naive {naive['tokens_per_s']:.0f} tok/s, "
                  f"x{st['ratios'][side]}); peak GPU {r.get('peak_gpu_mb', '?')} MB, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB")
        if "ct2_over_torch" in st:
            print(f"{name}: ct2/torch x{st['ct2_over_torch']}")
        if "ct2_agreement" in st:
            ag = st["ct2_agreement"]
            print(f"{name}: ct2 {st['ct2'].get('dtype')} = float32 on "
                  f"{ag['identical']}/{ag['compared']}")
    print(f"results: {path}")
EOF

if [ "${PIPELINE:-1}" = 1 ]; then
    "$PYTHON" benchmarks/gpu_pipeline.py --device cuda --dtype bfloat16 \
        --articles "${PIPELINE_ARTICLES:-1000}" --caches dynamic,static \
        --json "${OUT%.json}-pipeline.json"
fi
