"""Measure the engine's throughput against a naive per-item generate loop, and its memory.

``summarize bench`` runs, one after another in one process tree on the same machine, the
loop the transformers documentation shows (one article or one sentence at a time:
tokenizer, ``model.generate``, decode) and the engine through the same objects
``summarize batch`` uses (:func:`summarize.pipeline.load_models`, then
``Summarizer.summarize_many`` / ``Translator.translate_many``). Both sides see the same
real texts, the same model files and the same generation settings, with every output
forced to the same length (``min_new_tokens == max_new_tokens``, greedy), so both do
exactly the same work and their outputs can be compared item by item. Each side runs in a
fresh subprocess so its peak resident memory is its own.

Without ``--summarizer``/``--translator`` the models are random-weight models of the
published sizes (opus-mt-en-* Marian, distilbart-cnn-12-6 BART) with tokenizers trained on
the shared news data, built once and cached (``~/.cache/summarize-bench``).

``--stage memory`` runs the real ``summarize batch`` command on 200 and on 2,000 article
files (tiny models) and compares the peak resident memory each run records.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

STAGES = ("translate", "summarize")
DEFAULT_NEW_TOKENS = {"translate": 24, "summarize": 48}
DEFAULT_SENTENCES = 300
DEFAULT_ARTICLES = 12
DEFAULT_TARGET = "de"
MEMORY_COUNTS = (200, 2000)
MEMORY_LIMIT = 1.3  # peak RSS of the large run over the small one, at most
BUILD_VERSION = 2  # bump when the random models' recipe changes: cached copies are rebuilt

CNNDM_ARTICLES = "cnndm_frank_250/articles"
NTREX_SENTENCES = "ntrex128_news/sentences/newstest2019-src.eng.txt"
NTREX_GERMAN = "ntrex128_news/sentences/newstest2019-ref.deu.txt"

# Published shapes. Marian: Helsinki-NLP/opus-mt-en-* (transformer-base); the vocabulary is
# padded to 32,000 ids (the en-de model has 58,101). BART: sshleifer/distilbart-cnn-12-6.
SIZES: dict[str, dict[str, dict[str, int]]] = {
    "marian": {
        "base": {"d_model": 512, "encoder_layers": 6, "decoder_layers": 6, "heads": 8,
                 "ffn": 2048, "vocab": 32000, "positions": 512},
        "tiny": {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "heads": 2,
                 "ffn": 64, "vocab": 0, "positions": 512},
    },
    "bart": {
        "base": {"d_model": 1024, "encoder_layers": 12, "decoder_layers": 6, "heads": 16,
                 "ffn": 4096, "vocab": 50265, "positions": 1024},
        "tiny": {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "heads": 2,
                 "ffn": 64, "vocab": 0, "positions": 1024},
    },
}
# The output projection is not tied to the embeddings (the published models tie them; the
# work is the same): a random decoder's state is dominated by its input token, so with a tied
# head greedy decoding repeats one token forever and every output looks alike, while an
# untied random head gives varied outputs, which makes the output-by-output check meaningful.
# Tokenizer training: pieces giving about the published tokens per word on news text
# (~1.3 for GPT-2's BPE on CNN/DailyMail, ~1.35 for opus-mt's SentencePiece).
SPM_PIECES = 16000
BPE_MERGES = 12000


# --- data -----------------------------------------------------------------------------------


def default_data_dir() -> Path | None:
    """``<repo>/../shared/data`` when it holds the benchmark data, else None."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if (path / CNNDM_ARTICLES).is_dir() else None


def _repo_inputs() -> Path:
    return Path(__file__).resolve().parents[1] / "inputs"


def load_articles(n: int, data_dir: Path | None = None) -> list[str]:
    """The first ``n`` CNN/DailyMail articles (by file name), else the repo's ``inputs/``.

    Args:
        n: How many articles; fewer are returned when fewer exist.
        data_dir: The shared data folder (default: :func:`default_data_dir`).
    """
    data_dir = data_dir or default_data_dir()
    folder = data_dir / CNNDM_ARTICLES if data_dir else None
    if folder is None or not folder.is_dir():
        folder = _repo_inputs()
    files = sorted(p for p in folder.glob("*.txt") if p.is_file())
    texts = [" ".join(p.read_text("utf-8").split()) for p in files]
    return [t for t in texts if t][:n]


def load_sentences(n: int, data_dir: Path | None = None, lang: str = "en") -> list[str]:
    """``n`` distinct news sentences, each one sentence to the engine's splitter.

    The WMT19 news test set (NTREX) is read in order; a line that the engine's sentence
    splitter would cut into several sentences is left out, so that the naive loop and the
    engine translate exactly the same segments. Falls back on the sentences of ``inputs/``.
    """
    from summarize.text import segment_text

    data_dir = data_dir or default_data_dir()
    path = data_dir / NTREX_SENTENCES if data_dir else None
    if path is not None and path.is_file():
        lines = path.read_text("utf-8").splitlines()
    else:
        lines = [s for text in load_articles(10_000, None)
                 for paragraph in segment_text(text, lang) for s in paragraph]
    seen: set[str] = set()
    out: list[str] = []
    for line in lines:
        line = " ".join(line.split())
        if not line or line in seen:
            continue
        segments = segment_text(line, lang)
        if len(segments) != 1 or segments[0] != [line]:
            continue
        seen.add(line)
        out.append(line)
        if len(out) >= n:
            break
    return out


def _corpus(data_dir: Path | None) -> list[str]:
    """English news text for training tokenizers (shared data, else ``inputs/``)."""
    texts = load_articles(10_000, data_dir)
    data_dir = data_dir or default_data_dir()
    if data_dir is not None:
        for path in sorted((data_dir / "bbc_news_summary_100" / "article").glob("*/*.txt")):
            texts.append(path.read_text("utf-8", "replace"))
        path = data_dir / NTREX_SENTENCES
        if path.is_file():
            texts.extend(path.read_text("utf-8").splitlines())
    return [line for text in texts for line in text.splitlines() if line.strip()]


def _target_corpus(data_dir: Path | None) -> list[str]:
    data_dir = data_dir or default_data_dir()
    path = data_dir / NTREX_GERMAN if data_dir else None
    if path is not None and path.is_file():
        return [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    return _corpus(data_dir)


# --- random-weight models of the published sizes --------------------------------------------


def _train_spm(lines: list[str], pieces: int) -> bytes:
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, vocab_size=pieces,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    return buf.getvalue()


def build_marian(path: Path, size: str = "base", data_dir: Path | None = None,
                 seed: int = 0) -> Path:
    """Save a random-weight Marian translator (opus-mt-en-de layout) with real tokenizers.

    Source and target SentencePiece models are trained on English and German news; the
    vocabulary is padded with filler pieces up to the size's vocabulary so that every id
    the random model emits decodes.

    Args:
        path: Folder to write (name it ``opus-mt-en-xx`` so the target can be read from it).
        size: ``base`` (published opus-mt shape) or ``tiny``.
        data_dir: Shared data folder with the training text.
        seed: Weight initialisation seed.
    """
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    shape = SIZES["marian"][size]
    path.mkdir(parents=True, exist_ok=True)
    pieces = SPM_PIECES if size == "base" else 2000
    source = _train_spm(_corpus(data_dir), pieces)
    target = _train_spm(_target_corpus(data_dir), pieces // 2)
    (path / "source.spm").write_bytes(source)
    (path / "target.spm").write_bytes(target)
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for proto in (source, target):
        sp = spm.SentencePieceProcessor(model_proto=proto)
        for i in range(sp.get_piece_size()):
            if not sp.is_control(i) and not sp.is_unknown(i):
                vocab.setdefault(sp.id_to_piece(i), len(vocab))
    size_v = max(shape["vocab"], len(vocab) + 1)
    filler = 0
    while len(vocab) < size_v - 1:
        vocab.setdefault(f"\u2581fill{filler}", len(vocab))
        filler += 1
    vocab["<pad>"] = len(vocab)  # last id, as in the published models
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        source_spm=str(path / "source.spm"), target_spm=str(path / "target.spm"),
        vocab=str(path / "vocab.json"), model_max_length=shape["positions"],
    )
    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab), d_model=shape["d_model"],
        encoder_layers=shape["encoder_layers"], decoder_layers=shape["decoder_layers"],
        encoder_attention_heads=shape["heads"], decoder_attention_heads=shape["heads"],
        encoder_ffn_dim=shape["ffn"], decoder_ffn_dim=shape["ffn"],
        max_position_embeddings=shape["positions"], activation_function="swish",
        scale_embedding=True, static_position_embeddings=True,
        pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad, forced_eos_token_id=0,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    gen = model.generation_config
    gen.bad_words_ids = [[pad]]
    gen.max_length = 512
    gen.num_beams = 4
    gen.pad_token_id = pad
    gen.eos_token_id = 0
    gen.decoder_start_token_id = pad
    gen.forced_eos_token_id = 0
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_bart(path: Path, size: str = "base", data_dir: Path | None = None,
               seed: int = 0) -> Path:
    """Save a random-weight BART summarizer (distilbart-cnn-12-6 layout and settings).

    The byte-level BPE is trained on the shared news text and its vocabulary padded with
    filler tokens up to 50,265 ids; the generation settings are the published model's.

    Args:
        path: Folder to write.
        size: ``base`` (published distilbart-cnn-12-6 shape) or ``tiny``.
        data_dir: Shared data folder with the training text.
        seed: Weight initialisation seed.
    """
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    shape = SIZES["bart"][size]
    path.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        _corpus(data_dir), vocab_size=BPE_MERGES if size == "base" else 2000, min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False,
    )
    model_json = json.loads(bpe.to_str())["model"]
    vocab: dict[str, int] = dict(sorted(model_json["vocab"].items(), key=lambda kv: kv[1]))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" "))
              for m in model_json["merges"]]
    size_v = max(shape["vocab"], len(vocab) + 1)
    filler = 0
    while len(vocab) < size_v - 1:
        vocab.setdefault(f"\u0120fill{filler}", len(vocab))
        filler += 1
    vocab["<mask>"] = len(vocab)  # last id, as in the published models
    tokenizer = BartTokenizer(vocab=vocab, merges=merges, model_max_length=shape["positions"])
    summarization = {"early_stopping": True, "length_penalty": 2.0, "max_length": 142,
                     "min_length": 56, "no_repeat_ngram_size": 3, "num_beams": 4}
    config = BartConfig(
        vocab_size=len(vocab), d_model=shape["d_model"],
        encoder_layers=shape["encoder_layers"], decoder_layers=shape["decoder_layers"],
        encoder_attention_heads=shape["heads"], decoder_attention_heads=shape["heads"],
        encoder_ffn_dim=shape["ffn"], decoder_ffn_dim=shape["ffn"],
        max_position_embeddings=shape["positions"],
        bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2,
        forced_bos_token_id=0, forced_eos_token_id=2,
        task_specific_params={"summarization": summarization}, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = BartForConditionalGeneration(config)
    gen = model.generation_config
    for key, value in summarization.items():
        setattr(gen, key, value)
    gen.forced_bos_token_id = 0
    gen.forced_eos_token_id = 2
    gen.decoder_start_token_id = 2
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def default_work_dir() -> Path:
    """Where built models are cached: ``$SUMMARIZE_BENCH_DIR`` or ``~/.cache/summarize-bench``."""
    env = os.environ.get("SUMMARIZE_BENCH_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "summarize-bench"


def ensure_model(kind: str, size: str = "base", work_dir: Path | None = None,
                 data_dir: Path | None = None) -> Path:
    """The cached random model ``kind`` (marian, bart) of ``size``, built on first use."""
    work_dir = work_dir or default_work_dir()
    name = "opus-mt-en-de" if kind == "marian" else "distilbart-cnn-12-6"
    path = work_dir / f"random-{size}-v{BUILD_VERSION}" / name
    marker = path / ".complete"
    if marker.is_file():
        return path
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    # the folder name matters: the translator's target language is read from it
    staging = tmp / name
    (build_marian if kind == "marian" else build_bart)(staging, size, data_dir)
    (staging / ".complete").write_text(json.dumps({"kind": kind, "size": size}), "utf-8")
    if path.exists():
        shutil.rmtree(path)
    staging.rename(path)
    shutil.rmtree(tmp, ignore_errors=True)
    return path


# --- the two sides --------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


@contextmanager
def _rss_sampler(every_s: float = 0.01) -> Iterator[dict[str, float]]:
    """Sample this process's RSS in a thread; yields a dict whose ``peak_mb`` grows."""
    import psutil

    proc = psutil.Process()
    box = {"peak_mb": proc.memory_info().rss / 2**20}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            box["peak_mb"] = max(box["peak_mb"], proc.memory_info().rss / 2**20)
            stop.wait(every_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        stop.set()
        thread.join()
        box["peak_mb"] = max(box["peak_mb"], proc.memory_info().rss / 2**20)


def _generation_settings(new_tokens: int) -> dict[str, Any]:
    """Greedy, every output exactly ``new_tokens`` long (EOS is held back until then).

    No forced EOS either: it would fight the minimum on the last step (the engine turns it
    off anyway, so that an output never depends on its batch-mates' limits).
    """
    return {"num_beams": 1, "do_sample": False, "min_new_tokens": new_tokens,
            "max_new_tokens": new_tokens, "forced_eos_token_id": None}


def _warm(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings for a two-token warm-up call (no length constraint beyond it)."""
    return {**settings, "min_new_tokens": 2, "min_length": 0}


def _cut(row: list[int], limit: int, eos_ids: set[int], pad: int | None) -> list[int]:
    """The generated ids of one output as the engine counts them (after the start token)."""
    tokens = row[1:1 + limit]
    for i, tok in enumerate(tokens):
        if tok in eos_ids:
            return [t for t in tokens[: i + 1] if t != pad]
    return [t for t in tokens if t != pad]


class _NaiveModel:
    """A model and tokenizer loaded the documented way, plus the engine's own settings.

    The tokenizer and model come straight from ``from_pretrained``; the engine's
    :class:`~summarize.summarizer.Summarizer` / :class:`~summarize.translator.Translator`
    are built over them only to read the same generation settings, prefix and input
    windows. Inside the timed loop only tokenizer work of the engine runs (counting tokens,
    ``Summarizer.chunk`` for the partial summaries of long articles).
    """

    def __init__(self, model_dir: str, device: str, dtype: str, threads: int):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        from summarize.backends.hf import (
            HFBackend,
            quiet_transformers,
            select_device,
            select_dtype,
        )

        quiet_transformers()
        torch.set_num_threads(threads)
        self.torch = torch
        self.device = select_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        config_dtype = select_dtype(dtype, self.device, _model_type(model_dir))
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_dir, dtype=config_dtype)
        self.model.to(self.device).eval()
        self.backend = HFBackend(model_dir, self.tokenizer, self.model, path=model_dir,
                                 revision=None, license=None)
        gen = self.model.generation_config
        eos = gen.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.pad = gen.pad_token_id

    def generate_one(self, text: str, kwargs: dict[str, Any], limit: int) -> tuple[str, int]:
        """One input through tokenizer -> generate -> decode; returns (text, output tokens)."""
        inputs = self.tokenizer(text, return_tensors="pt").to(self.device)
        out = self.model.generate(**inputs, **kwargs, max_new_tokens=limit)
        tokens = _cut(out[0].tolist(), limit, self.eos_ids, self.pad)
        decoded = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return decoded.strip(), len(tokens)

    def sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


def _model_type(model_dir: str) -> str:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model_dir).model_type


def _cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(work: Callable[[], dict[str, Any]], repeat: int,
           sync: Callable[[], None]) -> dict[str, Any]:
    """Run ``work`` ``repeat`` times; keep the fastest run (other load only slows a run).

    ``work`` returns the run's outputs and token counts; each run must give the same outputs.
    """
    best: dict[str, Any] | None = None
    runs = []
    for _ in range(max(1, repeat)):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        cpu0, started = _cpu_s(), time.perf_counter()
        result = work()
        sync()
        seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu0
        runs.append(round(seconds, 3))
        if best is not None and result["outputs"] != best["outputs"]:
            raise RuntimeError("two runs of the same work gave different outputs")
        if best is None or seconds < best["seconds"]:
            best = {**result, "seconds": seconds, "cpu_s": round(cpu, 2), "load_avg": load}
    assert best is not None
    best["runs_s"] = runs
    return best


def _side_result(side: str, timed: dict[str, Any], n_items: int, **extra: Any
                 ) -> dict[str, Any]:
    seconds, out_tokens = timed["seconds"], timed["output_tokens"]
    return {
        "side": side, "items": n_items, "seconds": round(seconds, 6),
        "output_tokens": out_tokens, "input_tokens": timed["input_tokens"],
        "tokens_per_s": round(out_tokens / seconds, 1) if seconds > 0 else None,
        "items_per_s": round(n_items / seconds, 3) if seconds > 0 else None,
        "generate_calls": timed["calls"], "cpu_s": timed["cpu_s"], "runs_s": timed["runs_s"],
        "load_avg": timed["load_avg"], "outputs": timed["outputs"], **extra,
    }


def naive_translate(model_dir: str, sentences: Sequence[str], *, new_tokens: int,
                    target: str = DEFAULT_TARGET, device: str = "cpu", dtype: str = "auto",
                    threads: int = 2, repeat: int = 1) -> dict[str, Any]:
    """Translate sentence by sentence, batch size 1, as the transformers docs show it.

    A sentence longer than the model's input is cut where the engine's
    ``Translator._fit`` cuts it and the pieces' translations are joined the engine's way,
    so that both sides translate exactly the same segments.

    Returns:
        The side's result: seconds of the loop, output and input tokens, outputs.
    """
    from summarize.batching import TokenBudget
    from summarize.languages import plan_target
    from summarize.text import join_sentences
    from summarize.translator import Translator

    nm = _NaiveModel(model_dir, device, dtype, threads)
    plan = plan_target(nm.tokenizer, nm.model.config, target, "en", model_name=model_dir)
    plan.configure_tokenizer(nm.tokenizer)
    task = Translator(nm.backend, plan.target, _generation_settings(new_tokens), TokenBudget(1),
                      prefix=plan.prefix, forced_bos_token_id=plan.forced_bos_token_id,
                      src_lang=plan.src_lang)
    kwargs = dict(task.settings)
    kwargs.update(plan.generate_kwargs())
    segments = [[plan.prefix + piece for piece in task._fit(s)] for s in sentences]
    nm.generate_one(segments[0][0], _warm(kwargs), 2)  # warm-up, as the engine side gets
    nm.sync()

    def work() -> dict[str, Any]:
        outputs: list[str] = []
        n_out = n_in = calls = 0
        for pieces in segments:
            translated = []
            for text in pieces:
                n = nm.backend.count_tokens([text])[0]
                decoded, tokens = nm.generate_one(text, kwargs, task._limit(n))
                translated.append(decoded)
                n_in += n
                n_out += tokens
                calls += 1
            outputs.append(join_sentences(translated, task.target))
        return {"outputs": outputs, "output_tokens": n_out, "input_tokens": n_in,
                "calls": calls}

    return _side_result("naive", _timed(work, repeat, nm.sync), len(sentences))


def naive_summarize(model_dir: str, articles: Sequence[str], *, new_tokens: int,
                    device: str = "cpu", dtype: str = "auto", threads: int = 2,
                    repeat: int = 1) -> dict[str, Any]:
    """Summarize article by article, batch size 1, over the engine's own windows.

    An article longer than the model's input is cut into the windows the engine's
    ``Summarizer.chunk`` makes; each window is summarized alone and the joined partial
    summaries are summarized again, as the engine does, so both sides do the same work.
    """
    from summarize.batching import TokenBudget
    from summarize.summarizer import Summarizer

    nm = _NaiveModel(model_dir, device, dtype, threads)
    task = Summarizer(nm.backend, _generation_settings(new_tokens), TokenBudget(1))
    kwargs = dict(task.settings)
    nm.generate_one(task.prefix + articles[0][:200], _warm(kwargs), 2)  # warm-up
    nm.sync()

    def work() -> dict[str, Any]:
        outputs: list[str] = []
        n_out = n_in = calls = windows = 0
        for article in articles:
            pieces = task.chunk(article)
            windows += len(pieces)
            while True:
                parts = []
                for piece in pieces:
                    text = task.prefix + piece
                    n_in += nm.backend.count_tokens([text])[0]
                    decoded, tokens = nm.generate_one(text, kwargs, task.max_new)
                    parts.append(decoded)
                    n_out += tokens
                    calls += 1
                if len(parts) == 1:
                    outputs.append(parts[0])
                    break
                pieces = task.chunk(" ".join(p for p in parts if p))
        return {"outputs": outputs, "output_tokens": n_out, "input_tokens": n_in,
                "calls": calls, "windows": windows}

    timed = _timed(work, repeat, nm.sync)
    return _side_result("naive", timed, len(articles), windows=timed["windows"])


def _engine_config(role: str, model_dir: str, new_tokens: int, target: str, device: str,
                   dtype: str, batch_tokens: int | None) -> Any:
    from summarize.pipeline import check_config
    from summarize.records import RunConfig

    settings = _generation_settings(new_tokens)
    if role == "summarizer":
        config = RunConfig(inputs=(), summarizer=model_dir, translate="none",
                           summarizer_generation=settings, device=device, dtype=dtype,
                           batch_tokens=batch_tokens)
    else:
        config = RunConfig(inputs=(), translator=model_dir, summarize=False,
                           translate="article", targets=(target,),
                           translator_generation=settings, device=device, dtype=dtype,
                           batch_tokens=batch_tokens)
    return check_config(config)


def _syncer(device: str) -> Callable[[], None]:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def _engine_info(models: Any, task: Any) -> dict[str, Any]:
    return {"batch_tokens": task.budget.tokens, "device": models.device,
            "device_name": models.device_name, "dtype": models.dtype}


def engine_translate(model_dir: str, sentences: Sequence[str], *, new_tokens: int,
                     target: str = DEFAULT_TARGET, device: str = "cpu", dtype: str = "auto",
                     threads: int = 2, batch_tokens: int | None = None,
                     repeat: int = 1) -> dict[str, Any]:
    """Translate the sentences with the engine (``load_models`` + ``translate_many``)."""
    import torch

    from summarize.batching import BatchStats
    from summarize.pipeline import load_models

    torch.set_num_threads(threads)
    models = load_models(_engine_config("translator", model_dir, new_tokens, target, device,
                                        dtype, batch_tokens))
    task = next(iter(models.translators.values()))
    task.backend.generate([task.prefix + sentences[0]], _warm(task.settings), [2],
                          task.forced_bos_token_id)  # warm-up
    sync = _syncer(models.device)
    sync()

    def work() -> dict[str, Any]:
        stats = BatchStats()
        results = task.translate_many(list(sentences), stats)
        return {"outputs": [r.text for r in results], "output_tokens": stats.output_tokens,
                "input_tokens": stats.input_tokens, "calls": stats.n_batches,
                "batch_sizes": stats.batch_sizes}

    timed = _timed(work, repeat, sync)
    return _side_result("engine", timed, len(sentences), batch_sizes=timed["batch_sizes"],
                        **_engine_info(models, task))


def engine_summarize(model_dir: str, articles: Sequence[str], *, new_tokens: int,
                     device: str = "cpu", dtype: str = "auto", threads: int = 2,
                     batch_tokens: int | None = None, repeat: int = 1) -> dict[str, Any]:
    """Summarize the articles with the engine (``load_models`` + ``summarize_many``)."""
    import torch

    from summarize.batching import BatchStats
    from summarize.pipeline import load_models

    torch.set_num_threads(threads)
    models = load_models(_engine_config("summarizer", model_dir, new_tokens, DEFAULT_TARGET,
                                        device, dtype, batch_tokens))
    task = models.summarizer
    task.backend.generate([task.prefix + articles[0][:200]], _warm(task.settings), [2])
    sync = _syncer(models.device)
    sync()

    def work() -> dict[str, Any]:
        stats = BatchStats()
        results = task.summarize_many(list(articles), stats)
        return {"outputs": [r.text for r in results], "output_tokens": stats.output_tokens,
                "input_tokens": stats.input_tokens, "calls": stats.n_batches,
                "batch_sizes": stats.batch_sizes, "windows": sum(r.chunks for r in results)}

    timed = _timed(work, repeat, sync)
    return _side_result("engine", timed, len(articles), windows=timed["windows"],
                        batch_sizes=timed["batch_sizes"], **_engine_info(models, task))


SIDES: dict[str, Callable[..., dict[str, Any]]] = {
    "naive:translate": naive_translate,
    "engine:translate": engine_translate,
    "naive:summarize": naive_summarize,
    "engine:summarize": engine_summarize,
}


def run_side(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one side in this process; adds ``peak_rss_mb`` (sampled from the side's start)."""
    fn = SIDES[f"{spec['side']}:{spec['stage']}"]
    with _rss_sampler() as rss:
        result = fn(spec["model"], spec["items"], **spec["kwargs"])
    result["peak_rss_mb"] = round(rss["peak_mb"], 1)
    result["rss_method"] = "sampled"
    _add_gpu_peak(result)
    return result


def _add_gpu_peak(result: dict[str, Any]) -> None:
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
            result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)


def worker_main(argv: Sequence[str] | None = None) -> None:
    """Subprocess entry: run the side described by a JSON spec file, write its result."""
    args = list(sys.argv[1:] if argv is None else argv)
    spec = json.loads(Path(args[0]).read_text("utf-8"))
    fn = SIDES[f"{spec['side']}:{spec['stage']}"]
    result = fn(spec["model"], spec["items"], **spec["kwargs"])
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    result["rss_method"] = "ru_maxrss"
    _add_gpu_peak(result)
    Path(args[1]).write_text(json.dumps(result), "utf-8")


def run_side_subprocess(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one side in a fresh Python process so that its peak RSS is its own."""
    with tempfile.TemporaryDirectory(prefix="summarize-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec), "utf-8")
        env = dict(os.environ)
        if _is_local(spec["model"]):
            env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        env["OMP_NUM_THREADS"] = str(threads)
        env["MKL_NUM_THREADS"] = str(threads)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        code = "import sys; from summarize.bench import worker_main; worker_main(sys.argv[1:])"
        proc = subprocess.run([sys.executable, "-c", code, str(spec_path), str(out_path)],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(f"{spec['side']} {spec['stage']} failed "
                               f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        return json.loads(out_path.read_text("utf-8"))


def _is_local(model: str) -> bool:
    return Path(model).expanduser().is_dir()


# --- stages ---------------------------------------------------------------------------------


def compare_sides(naive: dict[str, Any], engine: dict[str, Any]) -> dict[str, Any]:
    """Ratio of output tokens per second (engine / naive) and an output-by-output check.

    The ratio is computed from the rounded ``tokens_per_s`` both sides report, so it can be
    recomputed from the printed numbers.
    """
    n = min(len(naive["outputs"]), len(engine["outputs"]))
    mismatched = [i for i in range(n) if naive["outputs"][i] != engine["outputs"][i]]
    ratio = None
    if naive.get("tokens_per_s") and engine.get("tokens_per_s"):
        ratio = round(engine["tokens_per_s"] / naive["tokens_per_s"], 2)
    return {
        "ratio": ratio,
        "wall_ratio": round(naive["seconds"] / engine["seconds"], 2)
        if engine["seconds"] > 0 and naive["items"] == engine["items"] else None,
        "same_work": naive["output_tokens"] == engine["output_tokens"]
        and naive["items"] == engine["items"],
        "compared": n,
        "identical": n - len(mismatched),
        "mismatched": mismatched[:50],
    }


def run_stage(stage: str, model_dir: str, items: Sequence[str], *, new_tokens: int,
              threads: int = 2, device: str = "cpu", dtype: str = "auto",
              batch_tokens: int | None = None, target: str = DEFAULT_TARGET,
              isolate: bool = True, naive_items: int | None = None, repeat: int = 1,
              keep_outputs: bool = False) -> dict[str, Any]:
    """Run the naive loop, then the engine, on the same items; return both and the ratio.

    Args:
        stage: ``translate`` (items are sentences) or ``summarize`` (items are articles).
        model_dir: Model folder or hub id used by both sides.
        items: The inputs.
        new_tokens: Output length forced on every generated text.
        threads: ``torch.set_num_threads`` on both sides.
        device: Device spec for both sides.
        dtype: Dtype spec for both sides (``auto``: float32 on CPU, bf16 on recent GPUs).
        batch_tokens: The engine's token budget per batch (None: its device default).
        target: Target language of the translation stage.
        isolate: Run each side in its own subprocess (separate peak RSS).
        naive_items: Give the naive loop only the first N items (slow devices, big runs);
            rates are still comparable, ``same_work`` is then False.
        repeat: Timed runs per side (after one warm-up); the fastest counts.
        keep_outputs: Keep every output text in the result.
    """
    kwargs: dict[str, Any] = {"new_tokens": new_tokens, "device": device, "dtype": dtype,
                              "threads": threads, "repeat": repeat}
    if stage == "translate":
        kwargs["target"] = target
    naive_list = list(items[:naive_items] if naive_items else items)
    specs = [
        {"side": "naive", "stage": stage, "model": model_dir, "items": naive_list,
         "kwargs": kwargs},
        {"side": "engine", "stage": stage, "model": model_dir, "items": list(items),
         "kwargs": {**kwargs, "batch_tokens": batch_tokens}},
    ]
    results = {}
    for spec in specs:
        if isolate:
            results[spec["side"]] = run_side_subprocess(spec, threads)
        else:
            results[spec["side"]] = run_side(spec)
    out = {"stage": stage, "model": model_dir, "new_tokens": new_tokens, "items": len(items),
           "naive": results["naive"], "engine": results["engine"]}
    out.update(compare_sides(results["naive"], results["engine"]))
    if not keep_outputs:
        for side in ("naive", "engine"):
            out[side]["sample_outputs"] = out[side].pop("outputs")[:3]
    return out


def write_memory_inputs(folder: Path, n: int, data_dir: Path | None = None) -> Path:
    """Write ``n`` distinct article files by cycling the real articles (each made unique)."""
    articles = load_articles(10_000, data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = articles[i % len(articles)]
        (folder / f"article-{i:05d}.txt").write_text(
            f"Report number {i} from the news desk. {text}\n", encoding="utf-8")
    return folder


MEMORY_CONFIG = """\
[summarizer]
max_new_tokens = 32
num_beams = 1

[translator]
max_new_tokens = 24
num_beams = 1
"""


def run_memory(work_dir: Path, *, counts: Sequence[int] = MEMORY_COUNTS,
               data_dir: Path | None = None, group_size: int | None = None,
               threads: int = 2, summarizer: str | None = None, translator: str | None = None,
               target: str = DEFAULT_TARGET, log: Callable[[str], None] | None = None,
               ) -> dict[str, Any]:
    """Peak RSS of ``summarize batch`` over ``counts`` articles (tiny models unless given).

    Each count is a separate ``python -m summarize batch`` run on freshly written files;
    the peak comes from the ``peak_rss_mb`` of its ``stats.json``.
    """
    summarizer = summarizer or str(ensure_model("bart", "tiny", work_dir, data_dir))
    translator = translator or str(ensure_model("marian", "tiny", work_dir, data_dir))
    runs = []
    with tempfile.TemporaryDirectory(prefix="summarize-bench-mem-") as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(MEMORY_CONFIG, "utf-8")
        for n in counts:
            inputs = write_memory_inputs(Path(tmp) / f"in-{n}", n, data_dir)
            out = Path(tmp) / f"out-{n}"
            cmd = [sys.executable, "-m", "summarize", "batch", str(inputs), "--out", str(out),
                   "--summarizer", summarizer, "--translator", translator, "--to", target,
                   "--config", str(cfg), "-q"]
            if group_size:
                cmd += ["--group-size", str(group_size)]
            env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                       OMP_NUM_THREADS=str(threads))
            root = str(Path(__file__).resolve().parents[1])
            env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
            if log:
                log(f"memory: summarize batch on {n} articles ...")
            started = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - started
            stats_path = out / "stats.json"
            if not stats_path.is_file():
                raise RuntimeError(f"summarize batch on {n} articles failed "
                                   f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}")
            stats = json.loads(stats_path.read_text("utf-8"))
            runs.append({"articles": n, "exit_code": proc.returncode,
                         "ok": stats["articles"]["ok"], "failed": stats["articles"]["failed"],
                         "peak_rss_mb": stats["peak_rss_mb"], "wall_s": round(wall, 2),
                         "articles_per_s": stats.get("articles_per_s")})
            shutil.rmtree(inputs, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
    ratio = round(runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3)
    return {"stage": "memory", "summarizer": summarizer, "translator": translator,
            "group_size": group_size, "runs": runs, "ratio": ratio, "limit": MEMORY_LIMIT,
            "ok": ratio <= MEMORY_LIMIT}


def machine_info(threads: int) -> dict[str, Any]:
    """What ran the benchmark (no torch import needed)."""
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpu": platform.processor() or platform.machine(),
                            "cpu_count": os.cpu_count(), "threads": threads}
    from importlib.metadata import PackageNotFoundError, version

    for name in ("torch", "transformers", "tokenizers"):
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = None
    return info


def run_bench(
    *,
    stage: str = "both",
    summarizer: str | None = None,
    translator: str | None = None,
    target: str = DEFAULT_TARGET,
    sentences: int = DEFAULT_SENTENCES,
    articles: int = DEFAULT_ARTICLES,
    new_tokens: int | None = None,
    threads: int = 2,
    batch_tokens: int | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    work_dir: Path | None = None,
    data_dir: Path | None = None,
    isolate: bool = True,
    naive_sentences: int | None = None,
    naive_articles: int | None = None,
    repeat: int = 1,
    memory_counts: Sequence[int] = MEMORY_COUNTS,
    group_size: int | None = None,
    size: str = "base",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the chosen stages and return the report (see :func:`format_report`).

    Args:
        stage: ``translate``, ``summarize``, ``both`` or ``memory``.
        summarizer: Summarization model folder or hub id (default: random distilbart size).
        translator: Translation model folder or hub id (default: random opus-mt size).
        target: Target language of the translation stage.
        sentences: Sentences for the translation stage.
        articles: Articles for the summarization stage.
        new_tokens: Output tokens per item (default: 24 translation, 48 summaries).
        threads: Torch CPU threads on every side.
        batch_tokens: The engine's token budget per batch (default: its device default).
        device: Device spec for both sides.
        dtype: Dtype spec for both sides.
        work_dir: Cache folder of built models (default: :func:`default_work_dir`).
        data_dir: Shared data folder (default: found beside the repository).
        isolate: One subprocess per side.
        naive_sentences: Run the naive loop on only the first N sentences (slow devices).
        naive_articles: Run the naive loop on only the first N articles.
        repeat: Timed runs per side; the fastest counts.
        memory_counts: Article counts of the memory stage (small, large).
        group_size: ``--group-size`` of the memory stage's runs.
        size: Size of the built random models (``base`` or, for tests, ``tiny``).
        log: Progress messages.
    """
    if stage not in (*STAGES, "both", "memory"):
        raise ValueError(f"--stage {stage}: expected translate, summarize, both or memory")
    work_dir = Path(work_dir) if work_dir else default_work_dir()
    log = log or (lambda message: None)
    report: dict[str, Any] = {"machine": machine_info(threads), "device": device,
                              "dtype": dtype, "stages": {}}
    if stage == "memory":
        report["stages"]["memory"] = run_memory(
            work_dir, counts=memory_counts, data_dir=data_dir, group_size=group_size,
            threads=threads, log=log)
        return report
    for name in STAGES if stage == "both" else (stage,):
        n_new = new_tokens or DEFAULT_NEW_TOKENS[name]
        if name == "translate":
            model = translator or str(ensure_model("marian", size, work_dir, data_dir))
            items = load_sentences(sentences, data_dir)
            naive_items = naive_sentences
        else:
            model = summarizer or str(ensure_model("bart", size, work_dir, data_dir))
            items = load_articles(articles, data_dir)
            naive_items = naive_articles
        log(f"{name}: {len(items)} items, {n_new} new tokens each, model {model}")
        report["stages"][name] = run_stage(
            name, model, items, new_tokens=n_new, threads=threads, device=device, dtype=dtype,
            batch_tokens=batch_tokens, target=target, isolate=isolate, naive_items=naive_items,
            repeat=repeat)
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as a few plain-text tables."""
    lines = []
    for name, st in report["stages"].items():
        if name == "memory":
            lines.append(f"memory  (summarize batch, models {Path(st['summarizer']).name} + "
                         f"{Path(st['translator']).name})")
            lines.append(f"  {'articles':>8}  {'peak RSS MB':>11}  {'wall s':>8}  "
                         f"{'articles/s':>10}")
            for run in st["runs"]:
                aps = run.get("articles_per_s")
                lines.append(f"  {run['articles']:>8}  {run['peak_rss_mb']:>11.1f}  "
                             f"{run['wall_s']:>8.1f}  {aps if aps is not None else '':>10}")
            verdict = "ok" if st["ok"] else "OVER"
            lines.append(f"  ratio {st['runs'][-1]['articles']}/{st['runs'][0]['articles']}: "
                         f"{st['ratio']:.3f} (limit {st['limit']}: {verdict})")
            lines.append("")
            continue
        unit = "sentences" if name == "translate" else "articles"
        engine = st["engine"]
        lines.append(f"{name}  ({st['items']} {unit}, {st['new_tokens']} new tokens each; "
                     f"{Path(st['model']).name}; {engine.get('device', '?')} "
                     f"{engine.get('dtype', '')}, {report['machine']['threads']} threads)")
        lines.append(f"  {'side':<7} {'seconds':>9} {'out tokens':>10} {'tok/s':>9} "
                     f"{f'{unit}/s':>12} {'peak RSS MB':>11} {'CPU s':>8}")
        for side in ("naive", "engine"):
            r = st[side]
            lines.append(f"  {side:<7} {r['seconds']:>9.2f} {r['output_tokens']:>10} "
                         f"{r['tokens_per_s'] or 0:>9.1f} {r['items_per_s'] or 0:>12.3f} "
                         f"{r['peak_rss_mb']:>11.1f} {r['cpu_s']:>8.1f}")
        if st["naive"]["items"] < st["engine"]["items"]:
            work = f"naive loop on the first {st['naive']['items']} {unit} only"
        else:
            work = f"same work: {'yes' if st['same_work'] else 'NO'}"
        lines.append(f"  ratio engine/naive (tok/s): {st['ratio']}x;  {work};  identical "
                     f"outputs: {st['identical']}/{st['compared']}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def bench(
    stage: Annotated[str, typer.Option(
        help="translate, summarize, both or memory.")] = "both",
    summarizer: Annotated[str | None, typer.Option(
        help="Summarization model folder or hub id. [default: random distilbart-cnn-12-6 "
             "size]")] = None,
    translator: Annotated[str | None, typer.Option(
        help="Translation model folder or hub id. [default: random opus-mt-en-de size]")]
    = None,
    to: Annotated[str, typer.Option("--to", help="Target language of the translator.")]
    = DEFAULT_TARGET,
    sentences: Annotated[int, typer.Option(help="Sentences to translate.")]
    = DEFAULT_SENTENCES,
    articles: Annotated[int, typer.Option(help="Articles to summarize.")] = DEFAULT_ARTICLES,
    new_tokens: Annotated[int | None, typer.Option(
        help="Output tokens per item, forced. [default: 24 translate, 48 summarize]")] = None,
    threads: Annotated[int, typer.Option(help="Torch CPU threads.")] = 2,
    batch_tokens: Annotated[int | None, typer.Option(
        help="Engine token budget per batch. [default: per device]")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N, mps or auto.")] = "cpu",
    dtype: Annotated[str, typer.Option(
        help="auto, float32, bfloat16 or float16 (auto: float32 on CPU).")] = "auto",
    json_file: Annotated[Path | None, typer.Option(
        "--json", help="Also write the results as JSON to this file.")] = None,
    work_dir: Annotated[Path | None, typer.Option(
        help="Cache of built models. [default: ~/.cache/summarize-bench]")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="Shared data folder. [default: ../shared/data beside the repo]")] = None,
    naive_sentences: Annotated[int | None, typer.Option(
        help="Naive loop on only the first N sentences (rates stay comparable).")] = None,
    naive_articles: Annotated[int | None, typer.Option(
        help="Naive loop on only the first N articles (rates stay comparable).")] = None,
    group_size: Annotated[int | None, typer.Option(
        help="--group-size of the memory stage's runs. [default: summarize batch's]")] = None,
    memory_articles: Annotated[str, typer.Option(
        help="Article counts of the memory stage, small,large.")] = "200,2000",
    repeat: Annotated[int, typer.Option(
        help="Timed runs per side; the fastest counts (other load only slows a run).")] = 1,
    in_process: Annotated[bool, typer.Option(
        help="Run both sides in this process (peak RSS is then sampled, not separate).")]
    = False,
) -> None:
    """Benchmark the engine against a naive one-at-a-time generate loop (and memory use)."""
    counts = tuple(int(x) for x in memory_articles.split(",") if x.strip())
    report = run_bench(
        stage=stage, summarizer=summarizer, translator=translator, target=to,
        sentences=sentences, articles=articles, new_tokens=new_tokens, threads=threads,
        batch_tokens=batch_tokens, device=device, dtype=dtype, work_dir=work_dir,
        data_dir=data_dir, isolate=not in_process, naive_sentences=naive_sentences,
        naive_articles=naive_articles, repeat=repeat,
        memory_counts=counts, group_size=group_size,
        log=lambda message: typer.echo(message, err=True),
    )
    typer.echo(format_report(report), nl=False)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")


def main() -> None:
    """``python -m summarize.bench``: the bench command on its own."""
    typer.run(bench)


if __name__ == "__main__":
    main()
