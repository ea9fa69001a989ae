"""Build tiny real Hugging Face models at test time (no hub access needed).

Each builder trains a small tokenizer on a few sentences, builds a one-layer seq2seq model
from a config with random weights, and saves both with ``save_pretrained`` so the project's
real loading code reads them like any downloaded model.
"""

from __future__ import annotations

import io
import json
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
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
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
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=max_positions,
    )
    model = BartForConditionalGeneration(config)
    model.generation_config.max_length = 32
    model.generation_config.min_new_tokens = 4  # random weights would often stop at once
    model.generation_config.num_beams = 1
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def main() -> None:
    """``python -m tests.tiny_models DIR``: build the tiny models to try the CLI offline."""
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-models")
    build_bart(target / "bart", max_positions=1024)
    build_marian(target / "opus-mt-en-ko")
    print(f"built {target}/bart and {target}/opus-mt-en-ko")


if __name__ == "__main__":
    main()
