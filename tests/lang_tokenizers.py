"""Build tiny real tokenizers (and one-layer models) of each translation family at test time.

The hub is unreachable in tests, so every builder trains a small SentencePiece model on a few
sentences, wraps it in the family's real transformers 5 tokenizer class, and saves it with
``save_pretrained`` next to a tiny ``config.json`` of the family's model type. The folder
then loads like a downloaded model::

    path = build_nllb_tokenizer(tmp_path / "nllb")
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = AutoConfig.from_pretrained(path)
    build_tiny_model(path)  # optional: random one-layer weights, for generate()

Builders:

* :func:`build_nllb_tokenizer` - NllbTokenizer with only the language tokens asked for.
* :func:`build_m2m100_tokenizer` - M2M100Tokenizer (``__ko__`` tokens, 100 or 8 languages).
* :func:`build_mbart50_tokenizer` - MBart50Tokenizer (all 52 ``ko_KR``-style codes).
* :func:`build_marian_tokenizer` - MarianTokenizer, multi-target when ``targets`` is given.
* :func:`build_t5_tokenizer` - T5Tokenizer, MADLAD-style when ``lang_tags`` adds ``<2xx>``.
* :func:`build_tiny_model` - random seq2seq weights matching a folder built above.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Officials said on Monday that the talks would continue next week.",
    "Markets rose sharply after the announcement by the central bank.",
    "Scientists found that the new vaccine was safe and effective.",
    "Police arrested two men after a robbery in the city centre.",
    "안녕하세요. 오늘은 날씨가 좋습니다.",
    "東京は日本の首都です。",
]

NLLB_LANGUAGES = ("eng_Latn", "kor_Hang", "jpn_Jpan")
MARIAN_TARGETS = ("kor", "jpn", "deu", "cmn_Hans", "cmn_Hant")
MADLAD_TAGS = ("en", "ko", "ja", "de", "zh", "zh_Hant")

_TINY = {
    "d_model": 16,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "max_position_embeddings": 64,
}


def train_spm(
    *,
    model_type: str = "unigram",
    vocab_size: int = 100,
    user_defined_symbols: Sequence[str] = (),
    **ids: int,
) -> bytes:
    """Train a small SentencePiece model on :data:`SENTENCES` and return its bytes.

    Args:
        model_type: "unigram" or "bpe".
        vocab_size: Upper bound on the vocabulary (the limit is soft).
        user_defined_symbols: Pieces kept whole, e.g. ``<2ko>``.
        **ids: Special ids for the trainer (``pad_id``, ``eos_id``, ``unk_id``, ``bos_id``).

    Returns:
        The serialized ``.model`` file.
    """
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 5),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        hard_vocab_limit=False,
        user_defined_symbols=list(user_defined_symbols),
        minloglevel=2,
        **ids,
    )
    return buf.getvalue()


def _pieces(proto: bytes) -> list[str]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=proto)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def _max_id(tokenizer: Any) -> int:
    ids = list(tokenizer.get_vocab().values())
    ids += list(getattr(tokenizer, "lang_token_to_id", {}).values())
    return max(ids)


def _save_config(directory: Path, config: Any, tokenizer: Any) -> None:
    """Save ``config`` with a vocab_size covering every id the tokenizer can produce."""
    config.vocab_size = max(_max_id(tokenizer) + 1, len(tokenizer))
    config.save_pretrained(directory)


def build_nllb_tokenizer(directory: Path, languages: Sequence[str] = NLLB_LANGUAGES) -> Path:
    """An NLLB-200 style tokenizer whose only language tokens are ``languages``.

    Args:
        directory: Folder to write (created).
        languages: NLLB codes to add as special tokens; the first is the default src_lang.

    Returns:
        ``directory``, holding tokenizer files and an ``m2m_100`` config (as NLLB ships).
    """
    from transformers import M2M100Config, NllbTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sentencepiece.bpe.model").write_bytes(train_spm(model_type="bpe"))
    tokenizer = NllbTokenizer.from_pretrained(
        directory, extra_special_tokens=list(languages), src_lang=languages[0]
    )
    tokenizer.save_pretrained(directory)
    config = M2M100Config(
        **_TINY, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2
    )
    _save_config(directory, config, tokenizer)
    return directory


def build_m2m100_tokenizer(directory: Path, language_codes: str = "m2m100") -> Path:
    """An M2M100 tokenizer (``__ko__`` tokens).

    Args:
        directory: Folder to write (created).
        language_codes: "m2m100" (100 languages) or "wmt21" (en ha is ja cs ru zh de).

    Returns:
        ``directory``, holding ``vocab.json``, the SentencePiece model and an M2M100 config.
    """
    from transformers import M2M100Config, M2M100Tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    proto = train_spm()
    spm_path = directory / "sentencepiece.bpe.model"
    spm_path.write_bytes(proto)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in _pieces(proto):
        vocab.setdefault(piece, len(vocab))
    vocab_path = directory / "vocab.json"
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = M2M100Tokenizer(
        vocab_file=str(vocab_path), spm_file=str(spm_path), language_codes=language_codes
    )
    tokenizer.save_pretrained(directory)
    config = M2M100Config(
        **_TINY, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2
    )
    _save_config(directory, config, tokenizer)
    return directory


def build_mbart50_tokenizer(directory: Path) -> Path:
    """An mBART-50 tokenizer (all 52 codes such as ``ko_KR``) with an ``mbart`` config."""
    from transformers import MBart50Tokenizer, MBartConfig

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sentencepiece.bpe.model").write_bytes(train_spm())
    tokenizer = MBart50Tokenizer.from_pretrained(directory, src_lang="en_XX")
    tokenizer.save_pretrained(directory)
    config = MBartConfig(
        **_TINY, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2
    )
    _save_config(directory, config, tokenizer)
    return directory


def build_marian_tokenizer(
    directory: Path,
    targets: Sequence[str] = MARIAN_TARGETS,
    *,
    source_lang: str | None = None,
    target_lang: str | None = None,
) -> Path:
    """An OPUS-MT (Marian) tokenizer; multi-target when ``targets`` is not empty.

    Name the folder like a real model (``opus-mt-en-de``) to test name-based checks.

    Args:
        directory: Folder to write (created).
        targets: Codes to add as ``>>code<<`` tokens; () builds a single-target tokenizer.
        source_lang: Stored as the tokenizer's ``source_lang``.
        target_lang: Stored as the tokenizer's ``target_lang``.

    Returns:
        ``directory``, holding ``source.spm``, ``target.spm``, ``vocab.json`` and a config.
    """
    from transformers import MarianConfig, MarianTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    proto = train_spm()
    (directory / "source.spm").write_bytes(proto)
    (directory / "target.spm").write_bytes(proto)
    vocab = {"</s>": 0, "<unk>": 1}
    for code in targets:
        vocab[f">>{code}<<"] = len(vocab)
    for piece in _pieces(proto):
        vocab.setdefault(piece, len(vocab))
    vocab["<pad>"] = len(vocab)
    vocab_path = directory / "vocab.json"
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Recommended: pip install sacremoses."
        tokenizer = MarianTokenizer(
            source_spm=str(directory / "source.spm"),
            target_spm=str(directory / "target.spm"),
            vocab=str(vocab_path),
            source_lang=source_lang,
            target_lang=target_lang,
            model_max_length=64,
        )
        tokenizer.save_pretrained(directory)
    pad = vocab["<pad>"]
    config = MarianConfig(**_TINY, pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad)
    _save_config(directory, config, tokenizer)
    return directory


def build_t5_tokenizer(directory: Path, lang_tags: Sequence[str] = MADLAD_TAGS) -> Path:
    """A T5 tokenizer; MADLAD-400 style (``<2ko>`` pieces in the vocab) when ``lang_tags``.

    Args:
        directory: Folder to write (created).
        lang_tags: Languages to add as ``<2xx>`` pieces; () builds a plain t5-base style one.

    Returns:
        ``directory``, holding the tokenizer files and a ``t5`` config.
    """
    from transformers import T5Config, T5Tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    proto = train_spm(
        user_defined_symbols=[f"<2{tag}>" for tag in lang_tags],
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
    )
    (directory / "spiece.model").write_bytes(proto)
    tokenizer = T5Tokenizer.from_pretrained(directory, extra_ids=0)
    tokenizer.save_pretrained(directory)
    config = T5Config(
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    _save_config(directory, config, tokenizer)
    return directory


def build_tiny_model(directory: Path, seed: int = 0) -> Path:
    """Write random one-layer seq2seq weights for a folder made by one of the builders.

    Args:
        directory: A folder holding a builder's tokenizer and ``config.json``.
        seed: Torch seed for the random weights.

    Returns:
        ``directory``, now loadable with ``AutoModelForSeq2SeqLM.from_pretrained``.
    """
    import torch
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    config = AutoConfig.from_pretrained(directory)
    torch.manual_seed(seed)
    model = AutoModelForSeq2SeqLM.from_config(config)
    model.save_pretrained(directory)
    return directory
