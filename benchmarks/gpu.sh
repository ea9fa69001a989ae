#!/usr/bin/env bash
# What a GPU does with each engine, in one table (benchmarks/gpu_engines.py): articles/s,
# generated tokens/s and the GPU's busy fraction of (a) the tool with --backend vllm, (b) bare
# vLLM LLM.generate on the same prompts (the tool's overhead), (c) the tool with the
# transformers engine on the same chat shape (Qwen3-0.6B, random weights), (d) the seq2seq
# pair (distilbart + opus-mt shapes) on torch and on CTranslate2; fixed output lengths. A row
# that cannot run there (vLLM or CTranslate2 not installed) is one line saying why. Sized for
# one call on one H100 in under 8 minutes (not yet run on one: no GPU was lent to its task).
#
# Usage, from a checkout on a machine whose python3 has torch with CUDA (nothing to install:
# the tool runs from this checkout; the GPU machines reach no package registry, so the
# packages their image lacks travel as wheels, fetched beforehand by
# benchmarks/gpu_wheels.sh into .whl/ and installed from there into /tmp):
#     bash benchmarks/gpu.sh                        # the table
#     bash benchmarks/gpu.sh --rows c,d --seq2seq-articles 400   # any gpu_engines.py option
#     bash benchmarks/gpu.sh --dry-run              # the plumbing on a CPU, tiny shapes
# Environment: PYTHON (default python3), OUT (JSON file, default bench-gpu.json; the table
# goes to ${OUT%.json}-engines.json), SUMMARIZE_BENCH_DIR (cache of the built models, default
# ~/.cache/summarize-bench).
#
# Earlier figures, each on request: STAGES=1 runs `summarize bench` (naive loop against the
# engine, torch bf16 beside CTranslate2 int8_float16 and float16; CT2=0 skips CTranslate2);
# PIPELINE=1 runs benchmarks/gpu_pipeline.py (the whole run in each --overlap mode;
# PIPELINE_ARTICLES, default 1000). Each takes minutes more.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-bench-gpu.json}

# packages carried as wheels (benchmarks/gpu_wheels.sh), then the tool from this checkout
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/summarize-site .whl/*.whl
    export PYTHONPATH="/tmp/summarize-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1

DRY=0
for arg in "$@"; do
    if [ "$arg" = --dry-run ]; then DRY=1; fi
done
if [ "$DRY" = 0 ]; then
    "$PYTHON" - <<'EOF'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("benchmarks/gpu.sh: this torch sees no CUDA device (--dry-run runs on a CPU)")
print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}", flush=True)
EOF
fi

"$PYTHON" benchmarks/gpu_engines.py --json "${OUT%.json}-engines.json" "$@"

if [ "${STAGES:-0}" != 1 ] && [ "${PIPELINE:-0}" != 1 ]; then
    exit 0
fi
CT2=${CT2:-1}
BACKENDS=torch
if [ "$CT2" = 1 ] && "$PYTHON" -c "import ctranslate2" 2>/dev/null; then
    BACKENDS=torch,ct2
else
    CT2=0
fi
if [ "${STAGES:-0}" = 1 ]; then
    # naive loop, torch engine (bf16), CTranslate2 int8_float16 and (for the agreement) float32
    "$PYTHON" -m summarize.devtools.bench --stage both --device cuda --dtype bfloat16 \
        --backend "$BACKENDS" --quantization int8_float16 \
        --sentences 2000 --articles 100 --naive-sentences 200 --naive-articles 20 \
        --json "$OUT"
    OUTS=("$OUT")
    if [ "$CT2" = 1 ]; then
        # CTranslate2 float16 (its float32 agreement run comes with it); the naive loop again
        # on a small prefix only, so that the x-naive column is from the same run
        OUT16="${OUT%.json}-ct2-float16.json"
        "$PYTHON" -m summarize.devtools.bench --stage both --device cuda --backend ct2 \
            --quantization float16 --sentences 2000 --articles 100 --naive-sentences 50 \
            --naive-articles 5 --json "$OUT16"
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
fi

if [ "${PIPELINE:-0}" = 1 ]; then
    "$PYTHON" benchmarks/gpu_pipeline.py --device cuda --dtype bfloat16 \
        --articles "${PIPELINE_ARTICLES:-1000}" --caches dynamic,static \
        --json "${OUT%.json}-pipeline.json"
fi
