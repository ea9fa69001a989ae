"""Random-weight models of published sizes, built once and cached for the benchmark.

Seq2seq: opus-mt-en-* (Marian) and distilbart-cnn-12-6 (BART) shapes
(:mod:`summarize.devtools.tinymodels`). Chat: SmolLM2-135M (a Llama) and Qwen3-0.6B shapes
with the project's own chat templates (:mod:`summarize.devtools.tinychat`). Tokenizers are
trained on the shared data when ``data_dir`` is given, else on the shipped sample; the two
are cached apart, in ``$SUMMARIZE_BENCH_DIR`` or ``~/.cache/summarize-bench``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from summarize.devtools.bench.data import corpus, target_corpus

BUILD_VERSION = 3  # bump when the random models' recipe changes: cached copies are rebuilt
#: Chat model shapes the benchmark builds, and the architecture of each (SmolLM2 is a Llama).
CHAT_SIZES = {"smollm2-135m": "llama", "qwen3-0.6b": "qwen3", "tiny": "qwen3"}
DEFAULT_CHAT = "smollm2-135m"
#: Context window of the built chat models (SmolLM2-135M's).
CHAT_POSITIONS = 8192


def default_work_dir() -> Path:
    """Where built models are cached: ``$SUMMARIZE_BENCH_DIR`` or ``~/.cache/summarize-bench``."""
    env = os.environ.get("SUMMARIZE_BENCH_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "summarize-bench"


def _cached(path: Path, build: Callable[[Path], None], marker: dict[str, str]) -> Path:
    """``path`` when its build completed, else built into a staging folder and moved there
    (an interrupted build never leaves a folder that looks complete)."""
    if (path / ".complete").is_file():
        return path
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    staging = tmp / path.name  # the folder name matters: a translator's target is read from it
    build(staging)
    (staging / ".complete").write_text(json.dumps(marker), "utf-8")
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(path)
    shutil.rmtree(tmp, ignore_errors=True)
    return path


def ensure_model(kind: str, size: str = "base", work_dir: Path | None = None,
                 data_dir: Path | None = None) -> Path:
    """The cached random seq2seq model ``kind`` (marian, bart) of ``size``, built on first use.

    Tokenizers are trained on the shared data when ``data_dir`` is given, else on the
    shipped sample; the two are cached apart.
    """
    from summarize.devtools import tinymodels

    work_dir = work_dir or default_work_dir()
    name = "opus-mt-en-de" if kind == "marian" else "distilbart-cnn-12-6"
    corpus_key = "data" if data_dir is not None else "sample"
    path = work_dir / f"random-{size}-v{BUILD_VERSION}-{corpus_key}" / name

    def build(staging: Path) -> None:
        if kind == "marian":
            tinymodels.build_sized_marian(staging, corpus(data_dir), size,
                                          target_corpus=target_corpus(data_dir))
        else:
            tinymodels.build_sized_bart(staging, corpus(data_dir), size)

    return _cached(path, build, {"kind": kind, "size": size})


def ensure_chat_model(size: str = DEFAULT_CHAT, work_dir: Path | None = None,
                      data_dir: Path | None = None) -> Path:
    """The cached random chat model of ``size`` (a key of :data:`CHAT_SIZES`), built on
    first use (about 10 s and 0.6 GB for SmolLM2-135M's shape).

    Raises:
        ValueError: ``size`` is not a key of :data:`CHAT_SIZES`.
    """
    if size not in CHAT_SIZES:
        raise ValueError(f"--chat {size}: expected a model folder or one of "
                         f"{', '.join(CHAT_SIZES)}")
    from summarize.devtools.tinychat import build_chat_model

    work_dir = work_dir or default_work_dir()
    corpus_key = "data" if data_dir is not None else "sample"
    path = work_dir / f"random-chat-v{BUILD_VERSION}-{corpus_key}" / size

    def build(staging: Path) -> None:
        # the tiny size keeps the builder's own small vocabulary (tests, the memory stage)
        texts = None if size == "tiny" else corpus(data_dir)
        build_chat_model(staging, CHAT_SIZES[size], size=size, corpus=texts,
                         max_positions=CHAT_POSITIONS)

    return _cached(path, build, {"kind": "chat", "size": size})


def chat_model(spec: str | None, work_dir: Path | None = None, data_dir: Path | None = None
               ) -> str:
    """``--chat``: a model folder or hub id as given, else the built model of that size."""
    spec = spec or DEFAULT_CHAT
    if spec in CHAT_SIZES:
        return str(ensure_chat_model(spec, work_dir, data_dir))
    return spec
