"""Build random-weight Hugging Face seq2seq models with real tokenizers, for tests and the bench.

One module for the seq2seq kinds (the tests, ``summarize bench`` and ``python -m
summarize.devtools.tinymodels DIR`` all use it; no hub access is needed; the chat models are
in :mod:`summarize.devtools.tinychat`):

* :func:`build_marian`, :func:`build_bart` - tiny one-layer models whose tokenizers are
  trained on :data:`SENTENCES` (the test fixtures).
* :func:`build_m2m` - a tiny multilingual M2M100 translator with language tokens, its
  tokenizer trained on :data:`MULTILINGUAL_SENTENCES` (en, ko, de, ja, zh, fr, es).
* :func:`build_sized_marian`, :func:`build_sized_bart` - the published shapes of
  ``Helsinki-NLP/opus-mt-en-*`` and ``sshleifer/distilbart-cnn-12-6`` (:data:`SIZES`) with
  tokenizers trained on the text given (the benchmark's models).
* :func:`main` - the command line: ``DIR``, ``--only KIND[,KIND]`` (:data:`KINDS`).

Each builder saves the model and tokenizer with ``save_pretrained`` so the project's real
loading code reads them like any downloaded model. torch, transformers, tokenizers and
sentencepiece are imported inside the builders only.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Officials said on Monday that the talks would continue next week.",
    "Markets rose sharply after the announcement by the central bank.",
    "The government has promised to publish the report before the election.",
    "Scientists found that the new vaccine was safe and effective.",
    "Police arrested two men after a robbery in the city centre.",
    "안녕하세요. 오늘은 날씨가 좋습니다. 정부는 보고서를 발표했다.",
    "경찰은 도심에서 강도 사건 이후 두 남자를 체포했다.",
]


#: A few sentences in each language the tiny multilingual models know (en, ko, de, ja, zh, fr,
#: es), written for these tests: the multilingual translator's and the chat models' tokenizers
#: are trained on them (and on :data:`SENTENCES`).
MULTILINGUAL_SENTENCES = [
    "The city council approved the new budget on Tuesday.",
    "Heavy rain caused flooding in several villages overnight.",
    "시의회는 화요일에 새 예산안을 승인했다.",
    "밤사이 폭우로 여러 마을이 물에 잠겼다.",
    "Der Stadtrat hat am Dienstag den neuen Haushalt beschlossen.",
    "Starker Regen hat über Nacht mehrere Dörfer überflutet.",
    "市議会は火曜日に新しい予算案を承認した。",
    "大雨で夜の間にいくつかの村が浸水した。",
    "市议会周二批准了新的预算。",
    "暴雨导致几个村庄在夜间被淹。",
    "Le conseil municipal a approuvé le nouveau budget mardi.",
    "De fortes pluies ont inondé plusieurs villages pendant la nuit.",
    "El ayuntamiento aprobó el nuevo presupuesto el martes.",
    "Las fuertes lluvias inundaron varios pueblos durante la noche.",
    "Prices rose 3.5% in 2024, the statistics office said. 🙂",
]


def _train_spm(vocab_size: int = 160) -> bytes:
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 10),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return buf.getvalue()


#: The layer shape of every tiny BART-like test model (Marian, BART, Pegasus, LED): one
#: 16-wide layer each side, two heads.
TINY_LAYERS: dict[str, int] = {
    "d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
    "decoder_attention_heads": 2, "encoder_ffn_dim": 32, "decoder_ffn_dim": 32,
}


def build_marian(path: Path, *, targets: tuple[str, ...] = (), seed: int = 0) -> Path:
    """A tiny Marian (opus-mt style) translator; ``targets`` adds ``>>xxx<<`` tokens."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    path.mkdir(parents=True, exist_ok=True)
    proto = _train_spm()
    (path / "source.spm").write_bytes(proto)
    (path / "target.spm").write_bytes(proto)
    sp = spm.SentencePieceProcessor(model_proto=proto)
    vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}
    for code in targets:
        vocab[f">>{code}<<"] = len(vocab)
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        source_spm=str(path / "source.spm"),
        target_spm=str(path / "target.spm"),
        vocab=str(path / "vocab.json"),
        model_max_length=64,
    )
    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(vocab),
        **TINY_LAYERS,
        max_position_embeddings=64,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["</s>"],
        decoder_start_token_id=vocab["<pad>"],
    )
    model = MarianMTModel(config)
    model.generation_config.max_length = 64
    model.generation_config.num_beams = 1
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_bart(path: Path, *, max_positions: int = 128, seed: int = 0) -> Path:
    """A tiny BART summarizer with a byte-level BPE tokenizer."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    path.mkdir(parents=True, exist_ok=True)
    from tokenizers import trainers

    bpe = ByteLevelBPETokenizer()
    # English only, and no byte alphabet beyond what it saw: decoding random ids then gives
    # ASCII words that re-encode to about as many tokens (random UTF-8 fragments would not).
    english = [s for s in SENTENCES if s.isascii()]
    trainer = trainers.BpeTrainer(
        vocab_size=400, min_frequency=1, show_progress=False, initial_alphabet=[],
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    bpe._tokenizer.train_from_iterator(english * 5, trainer=trainer)
    vocab = json.loads(bpe.to_str())["model"]["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" "))
              for m in json.loads(bpe.to_str())["model"]["merges"]]
    tokenizer = BartTokenizer(vocab=vocab, merges=merges, model_max_length=max_positions)
    torch.manual_seed(seed)
    config = BartConfig(
        vocab_size=len(tokenizer),
        **TINY_LAYERS,
        max_position_embeddings=max_positions,
    )
    model = BartForConditionalGeneration(config)
    model.generation_config.max_length = 32
    model.generation_config.min_new_tokens = 4  # random weights would often stop at once
    model.generation_config.num_beams = 1
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


#: The languages the tiny multilingual translator is trained on; its tokenizer carries every
#: M2M100 language token (``__en__`` ... ``__zu__``), so it accepts all 100 M2M100 codes.
MULTILINGUAL_LANGUAGES = ("en", "ko", "de", "ja", "zh", "fr", "es")
_BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")


def build_m2m(path: Path, *, max_positions: int = 128, seed: int = 0) -> Path:
    """A tiny multilingual M2M100 translator with language tokens (``__ko__``, ``__de__``...).

    Its SentencePiece model is trained on :data:`MULTILINGUAL_SENTENCES` and :data:`SENTENCES`
    with byte fallback, so text in any script encodes without ``<unk>``; the tokenizer is the
    real ``M2M100Tokenizer`` with the 100 M2M100 language tokens, so the project's language
    handling plans any pair among them (the target through ``forced_bos_token_id``, the source
    through ``src_lang``), :data:`MULTILINGUAL_LANGUAGES` included, in both directions.

    Args:
        path: Folder to write (created).
        max_positions: Position embeddings (and the tokenizer's ``model_max_length``).
        seed: Weight initialisation seed.

    Returns:
        ``path``, loadable with ``AutoModelForSeq2SeqLM``/``AutoTokenizer``.
    """
    import sentencepiece as spm
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    path.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter((MULTILINGUAL_SENTENCES + SENTENCES) * 5), model_writer=buf,
        vocab_size=800, model_type="unigram", character_coverage=1.0, byte_fallback=True,
        hard_vocab_limit=False, minloglevel=2,
    )
    proto = buf.getvalue()
    (path / "sentencepiece.bpe.model").write_bytes(proto)
    sp = spm.SentencePieceProcessor(model_proto=proto)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    # The language tokens are named as special tokens, as in the published tokenizer_config:
    # left to the class's own default (transformers 5.25) they are not special, and
    # ``decode(skip_special_tokens=True)`` then leaves ``__ko__`` in every translation.
    tokenizer = M2M100Tokenizer(
        vocab_file=str(path / "vocab.json"), spm_file=str(path / "sentencepiece.bpe.model"),
        language_codes="m2m100", model_max_length=max_positions,
        additional_special_tokens=[f"__{code}__" for code in FAIRSEQ_LANGUAGE_CODES["m2m100"]],
    )
    # The 100 language tokens and the made-up words follow the SentencePiece vocabulary.
    vocab_size = (max(tokenizer.lang_token_to_id.values()) + 1
                  + int(getattr(tokenizer, "num_madeup_words", 0)))
    config = M2M100Config(
        vocab_size=vocab_size, **TINY_LAYERS, max_position_embeddings=max_positions,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    model.generation_config.max_length = 64
    model.generation_config.num_beams = 1
    # Byte pieces read any input; a random model that wrote them would write broken UTF-8.
    model.generation_config.bad_words_ids = [[vocab[p]] for p in vocab if _BYTE_PIECE.fullmatch(p)]
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# --- published sizes (the benchmark's models) ------------------------------

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


def _train_spm_lines(lines: list[str], pieces: int) -> bytes:
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, vocab_size=pieces,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    return buf.getvalue()


def build_sized_marian(path: Path, corpus: list[str], size: str = "base",
                       target_corpus: list[str] | None = None, seed: int = 0) -> Path:
    """Save a random-weight Marian translator (opus-mt-en-de layout) with real tokenizers.

    Source and target SentencePiece models are trained on ``corpus`` and ``target_corpus``
    (default: ``corpus``); the
    vocabulary is padded with filler pieces up to the size's vocabulary so that every id
    the random model emits decodes.

    Args:
        path: Folder to write (name it ``opus-mt-en-xx`` so the target can be read from it).
        size: ``base`` (published opus-mt shape) or ``tiny``.
        target_corpus: Lines of target-language text for the target tokenizer.
        corpus: Lines of (English) text to train the tokenizer(s) on.
        seed: Weight initialisation seed.
    """
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    shape = SIZES["marian"][size]
    path.mkdir(parents=True, exist_ok=True)
    pieces = SPM_PIECES if size == "base" else 2000
    source = _train_spm_lines(corpus, pieces)
    target = _train_spm_lines(target_corpus or corpus, pieces // 2)
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


def build_sized_bart(path: Path, corpus: list[str], size: str = "base",
                     seed: int = 0) -> Path:
    """Save a random-weight BART summarizer (distilbart-cnn-12-6 layout and settings).

    The byte-level BPE is trained on ``corpus`` and its vocabulary padded with
    filler tokens up to 50,265 ids; the generation settings are the published model's.

    Args:
        path: Folder to write.
        size: ``base`` (published distilbart-cnn-12-6 shape) or ``tiny``.
        corpus: Lines of (English) text to train the tokenizer(s) on.
        seed: Weight initialisation seed.
    """
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    shape = SIZES["bart"][size]
    path.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        corpus, vocab_size=BPE_MERGES if size == "base" else 2000, min_frequency=2,
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


#: What ``python -m summarize.devtools.tinymodels`` can build: kind -> (folder, what it is).
#: The first four are built by default.
KINDS: dict[str, tuple[str, str]] = {
    "bart": ("bart", "BART summarizer (English)"),
    "marian": ("opus-mt-en-ko", "Marian en->ko translator"),
    "m2m": ("m2m-multi", "M2M100 translator, 100 language tokens (en ko de ja zh fr es...)"),
    "qwen3": ("chat-qwen3", "Qwen3 chat model, the project's own ChatML template"),
    "gemma3": ("chat-gemma3", "Gemma 3 chat model, own template"),
    "llama": ("chat-llama", "Llama 3 chat model, own template"),
    "gemma4": ("chat-gemma4", "Gemma 4 chat model, own template"),
    "translategemma": ("chat-translategemma", "TranslateGemma-like translator, own template"),
}
DEFAULT_KINDS = ("bart", "marian", "m2m", "qwen3")


def build_kind(kind: str, target: Path) -> Path:
    """Build one of :data:`KINDS` into ``target / KINDS[kind][0]``.

    Raises:
        ValueError: ``kind`` is not a key of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    folder = target / KINDS[kind][0]
    if kind == "bart":
        return build_bart(folder, max_positions=1024)
    if kind == "marian":
        return build_marian(folder)
    if kind == "m2m":
        return build_m2m(folder)
    from summarize.devtools.tinychat import build_chat_model

    return build_chat_model(folder, kind)


def _parse_kinds(text: str) -> list[str]:
    import argparse

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"unknown kind {', '.join(map(repr, unknown)) or repr(text)}; "
            f"choose from {', '.join(KINDS)}")
    return list(dict.fromkeys(kinds))


def main(argv: list[str] | None = None) -> None:
    """``python -m summarize.devtools.tinymodels [DIR] [--only KIND[,KIND]]``: build the tiny
    random-weight models to try the CLI offline (their outputs are noise; the flow is real)."""
    import argparse
    import time

    kinds_help = "\n".join(f"  {k:15s} {folder + '/':22s} {what}"
                           for k, (folder, what) in KINDS.items())
    parser = argparse.ArgumentParser(
        prog="python -m summarize.devtools.tinymodels",
        description="Build tiny random-weight models (real tokenizers, noise outputs) to try "
                    "summarize offline.",
        epilog=f"kinds (default: {','.join(DEFAULT_KINDS)}):\n{kinds_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", metavar="DIR", nargs="?", default="tiny-models", type=Path,
                        help="folder to build the models in (default: tiny-models)")
    parser.add_argument("--only", metavar="KIND[,KIND]", type=_parse_kinds,
                        default=list(DEFAULT_KINDS), help="build only these kinds")
    args = parser.parse_args(argv)
    if args.dir.exists() and not args.dir.is_dir():
        parser.error(f"{args.dir} exists and is not a folder")
    for kind in args.only:
        start = time.perf_counter()
        path = build_kind(kind, args.dir)
        print(f"built {path} ({KINDS[kind][1]}) in {time.perf_counter() - start:.1f} s",
              flush=True)


if __name__ == "__main__":
    main()
