"""Build tiny random-weight chat (decoder-only) models with real tokenizers and chat templates.

:func:`build_chat_model` writes a folder that loads like a downloaded instruction model
(``AutoModelForCausalLM``/``AutoTokenizer``, offline): Qwen3, Gemma 3 (text), Llama 3.x and
Gemma 4 (text) architectures, plus a TranslateGemma-like Gemma 3 model, each with

* a byte-level BPE tokenizer trained on a few sentences in several scripts (every Unicode
  text encodes, nothing becomes ``<unk>``) carrying the family's template tokens as single
  tokens, its BOS behaviour (Gemma and Llama tokenizers add BOS, Qwen's does not) and its
  special/non-special split (Qwen3's ``<think>`` is an added token that is *not* special, as
  in the published tokenizer, so ``skip_special_tokens`` keeps it);
* a ``generation_config.json`` with the family's stop ids, a pad id and ``do_sample=False``;
* a chat template: the published one when ``template=`` names a ``.jinja`` file (read at
  build time, never stored in this repository), else a small one written for this project
  per family (:data:`OWN_TEMPLATES`) so a chat model can always be built offline.

torch, transformers and tokenizers are imported inside the builder only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from summarize.devtools.tinymodels import MULTILINGUAL_SENTENCES, SENTENCES

# --- the project's own small templates (not copies of the published ones) -----------------

_CHATML = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is not string -%}"
    "{{ raise_exception('message content must be a string') }}"
    "{%- endif -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}"
    "{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{%- endif -%}"
)

_GEMMA_TURNS = (
    "{{- bos_token -}}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set first_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set turns = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_prefix = '' -%}"
    "{%- set turns = messages -%}"
    "{%- endif -%}"
    "{%- for message in turns -%}"
    "{%- if message['role'] != ('user' if loop.index0 is even else 'assistant') -%}"
    "{{ raise_exception('roles must alternate user/assistant after an optional system') }}"
    "{%- endif -%}"
    "{%- if message['content'] is not string -%}"
    "{{ raise_exception('message content must be a string') }}"
    "{%- endif -%}"
    "{{- '<start_of_turn>' + ('model' if message['role'] == 'assistant' else message['role'])"
    " + '\\n' + (first_prefix if loop.first else '') + message['content'] | trim"
    " + '<end_of_turn>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\\n' -}}{%- endif -%}"
)

_LLAMA_HEADERS = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- if message['content'] is not string -%}"
    "{{ raise_exception('message content must be a string') }}"
    "{%- endif -%}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}"
    "{%- endif -%}"
)

_GEMMA4_TURNS = (
    "{%- set thinking = enable_thinking is defined and enable_thinking -%}"
    "{{- bos_token -}}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{{- '<|turn>system\\n' + ('<|think|>' if thinking else '')"
    " + messages[0]['content'] | trim + '<turn|>\\n' -}}"
    "{%- set turns = messages[1:] -%}"
    "{%- else -%}"
    "{%- if thinking -%}{{- '<|turn>system\\n<|think|><turn|>\\n' -}}{%- endif -%}"
    "{%- set turns = messages -%}"
    "{%- endif -%}"
    "{%- for message in turns -%}"
    "{%- if message['content'] is not string -%}"
    "{{ raise_exception('message content must be a string') }}"
    "{%- endif -%}"
    "{{- '<|turn>' + ('model' if message['role'] == 'assistant' else message['role'])"
    " + '\\n' + message['content'] | trim + '<turn|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|turn>model\\n' -}}"
    "{%- if not thinking -%}{{- '<|channel>thought\\n<channel|>' -}}{%- endif -%}"
    "{%- endif -%}"
)

#: Language codes the project's TranslateGemma-like template knows (the published template has
#: a table of 581 codes; like it, a code outside the table is an error).
TRANSLATE_LANGUAGES = {
    "en": "English", "ko": "Korean", "de": "German", "ja": "Japanese", "zh": "Chinese",
    "zh-Hant": "Traditional Chinese", "zh-TW": "Traditional Chinese", "fr": "French",
    "es": "Spanish", "it": "Italian", "pt": "Portuguese", "ru": "Russian", "ar": "Arabic",
    "hi": "Hindi", "vi": "Vietnamese", "th": "Thai", "id": "Indonesian", "nl": "Dutch",
    "pl": "Polish", "tr": "Turkish", "uk": "Ukrainian",
}

_TRANSLATE_TURN = (
    "{%- set names = " + json.dumps(TRANSLATE_LANGUAGES) + " -%}"
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    "{%- if message['content'] is string or message['content'] | length != 1 -%}"
    "{{ raise_exception('user content must be a list of exactly one "
    "{type, source_lang_code, target_lang_code, text} item') }}"
    "{%- endif -%}"
    "{%- set item = message['content'][0] -%}"
    "{%- set src = item['source_lang_code'] | replace('_', '-') -%}"
    "{%- set tgt = item['target_lang_code'] | replace('_', '-') -%}"
    "{%- if src not in names or tgt not in names -%}"
    "{{ raise_exception('unknown language code: ' + src + ' or ' + tgt) }}"
    "{%- endif -%}"
    "{{- '<start_of_turn>user\\nTranslate this ' + names[src] + ' (' + src + ') text into '"
    " + names[tgt] + ' (' + tgt + '). Answer with the ' + names[tgt]"
    " + ' translation only.\\n\\n\\n' + item['text'] | trim + '<end_of_turn>\\n' -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{- '<start_of_turn>model\\n' + message['content'] | trim + '<end_of_turn>\\n' -}}"
    "{%- else -%}"
    "{{ raise_exception('only user and assistant turns; no ' + message['role'] + ' role') }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\\n' -}}{%- endif -%}"
)

#: The project's own chat template per architecture (see the module docstring).
OWN_TEMPLATES: dict[str, str] = {
    "qwen3": _CHATML,
    "gemma3": _GEMMA_TURNS,
    "llama": _LLAMA_HEADERS,
    "gemma4": _GEMMA4_TURNS,
    "translategemma": _TRANSLATE_TURN,
}


# --- families -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatFamily:
    """What a published model family's tokenizer and generation config look like.

    Attributes:
        model_type: ``config.json``'s model type (the architecture built).
        leading: Special tokens given the first ids (Gemma: pad 0, eos 1, bos 2, unk 3).
        trailing: Special tokens added after the learned vocabulary (Qwen, Llama).
        plain: Added tokens that are single tokens but not special (Qwen3's ``<think>``).
        bos: The tokenizer's BOS token, or None (Qwen: none).
        eos: The tokenizer's EOS token (what the template ends a turn with).
        pad: The tokenizer's pad token, or None (Llama 3 ships none).
        unk: The tokenizer's unknown token, or None.
        add_bos: Whether encoding adds BOS (Gemma, Llama: yes; the template writes it too).
        stop: The generation config's ``eos_token_id`` list, as tokens, in its order.
        gen_pad: The generation config's pad token.
        gen_bos: The generation config's ``bos_token_id`` token, or None.
        listed: Special tokens the tokenizer config names (``additional_special_tokens``,
            so ``all_special_tokens`` has them); the others are special in the vocabulary
            only (skipped when decoding with ``skip_special_tokens``).
    """

    model_type: str
    leading: tuple[str, ...]
    trailing: tuple[str, ...]
    bos: str | None
    eos: str
    pad: str | None
    unk: str | None
    add_bos: bool
    stop: tuple[str, ...]
    gen_pad: str
    gen_bos: str | None = None
    plain: tuple[str, ...] = field(default=())
    listed: tuple[str, ...] = field(default=())


_GEMMA3 = ChatFamily(
    model_type="gemma3_text",
    leading=("<pad>", "<eos>", "<bos>", "<unk>", "<mask>"),
    trailing=("<start_of_turn>", "<end_of_turn>", "<start_of_image>"),
    bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", add_bos=True,
    stop=("<eos>", "<end_of_turn>"), gen_pad="<pad>", gen_bos="<bos>",
)

#: The tokens, BOS behaviour and stop ids of each architecture, as the published tokenizers
#: and generation configs have them (Qwen3-1.7B, gemma-3-1b-it, Llama-3.1/3.2 Instruct,
#: Gemma 4; TranslateGemma uses Gemma 3's).
FAMILIES: dict[str, ChatFamily] = {
    "qwen3": ChatFamily(
        model_type="qwen3",
        leading=(),
        trailing=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        plain=("<think>", "</think>"),
        bos=None, eos="<|im_end|>", pad="<|endoftext|>", unk=None, add_bos=False,
        stop=("<|im_end|>", "<|endoftext|>"), gen_pad="<|endoftext|>", gen_bos="<|endoftext|>",
        listed=("<|im_start|>", "<|im_end|>"),
    ),
    "gemma3": _GEMMA3,
    "translategemma": _GEMMA3,
    "llama": ChatFamily(
        model_type="llama",
        leading=(),
        trailing=("<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>",
                  "<|python_tag|>"),
        bos="<|begin_of_text|>", eos="<|eot_id|>", pad=None, unk=None, add_bos=True,
        stop=("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"),
        gen_pad="<|finetune_right_pad_id|>", gen_bos="<|begin_of_text|>",
    ),
    "gemma4": ChatFamily(
        model_type="gemma4_text",
        leading=("<pad>", "<eos>", "<bos>", "<unk>", "<mask>"),
        trailing=("<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|think|>", "<|tool>",
                  "<tool|>", "<|tool_call>", "<tool_call|>", "<|tool_response>",
                  "<tool_response|>", '<|"|>', "<|image|>", "<|audio|>", "<|video|>"),
        bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", add_bos=True,
        stop=("<eos>", "<turn|>"), gen_pad="<pad>", gen_bos="<bos>",
    ),
}

CHAT_ARCHS = tuple(FAMILIES)

# Words the chat templates write, so that the tokenizer has learned them.
_WORDS = ["system user assistant model thought Translate this text into the translation only."]

#: Model shapes: ``tiny`` for tests and the demo; the others are published shapes (random
#: weights) for benchmarks: SmolLM2-135M (a Llama) and Qwen3-0.6B. ``vocab_size`` 0 means the
#: trained tokenizer's size; a published size is reached with filler words (`` fill123``) in
#: the BPE vocabulary. The published models tie the output projection to the embeddings;
#: these do not (the work is the same): a random tied head makes greedy decoding repeat one
#: token forever, an untied one gives varied outputs.
CHAT_SHAPES: dict[str, dict[str, Any]] = {
    "tiny": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
             "vocab_size": 0},
    "smollm2-135m": {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                     "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
                     "vocab_size": 49152},
    "qwen3-0.6b": {"hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
                   "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
                   "vocab_size": 151936},
}
#: Learned BPE vocabulary: tiny on the built-in sentences, larger on a corpus (about the
#: published tokens per word on news text).
TINY_BPE = 500
CORPUS_BPE = 16000


# --- tokenizer ------------------------------------------------------------------------------


def _vocab_merges(trained: Any) -> tuple[dict[str, int], list[tuple[str, str]]]:
    model = json.loads(trained.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return dict(model["vocab"]), merges


def _byte_level_bpe(texts: Sequence[str], leading: tuple[str, ...], size: int, *, nfc: bool
                    ) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary and merges of a byte-level BPE (GPT-2's alphabet of all 256 bytes, so
    nothing is unknown), as Qwen and Llama 3 use."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    if nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=size, min_frequency=1, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=list(leading),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return _vocab_merges(tok)


def _gemma_bpe(texts: Sequence[str], leading: tuple[str, ...], size: int
               ) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary and merges of a SentencePiece-style BPE with byte fallback (Gemma's kind:
    ``▁`` for spaces, ``<0xNN>`` pieces for any character it never saw)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    trainer = trainers.BpeTrainer(vocab_size=size, min_frequency=1, show_progress=False,
                                  special_tokens=list(leading))
    tok.train_from_iterator(texts, trainer=trainer)
    learned, merges = _vocab_merges(tok)
    vocab = {t: i for i, t in enumerate(leading)}
    vocab.update({f"<0x{b:02X}>": len(vocab) + b for b in range(256)})
    for token, _ in sorted(learned.items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    return vocab, merges


def _tokenizer(arch: str, family: ChatFamily, texts: Sequence[str], learned: int, total: int,
               max_positions: int) -> Any:
    """The family's tokenizer class around a BPE trained on ``texts``, with its tokens, and
    ``total`` ids in all when ``total`` is above what was learned."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import GemmaTokenizer, PreTrainedTokenizerFast, Qwen2Tokenizer

    gemma = family.model_type.startswith("gemma")
    if gemma:
        vocab, merges = _gemma_bpe(texts, family.leading, learned)
    else:
        vocab, merges = _byte_level_bpe(texts, family.leading, learned, nfc=arch == "qwen3")
    space = "\u2581" if gemma else "\u0120"
    filler = 0
    while len(vocab) + len(family.trailing) + len(family.plain) < total:
        vocab.setdefault(f"{space}fill{filler}", len(vocab))
        filler += 1
    names = {"bos_token": family.bos, "eos_token": family.eos, "pad_token": family.pad,
             "unk_token": family.unk, "model_max_length": max_positions,
             "clean_up_tokenization_spaces": False}
    if family.listed:
        names["extra_special_tokens"] = list(family.listed)
    if gemma:
        tokenizer = GemmaTokenizer(vocab=vocab, merges=merges, mask_token="<mask>",
                                   add_bos_token=True, **names)
    elif arch == "qwen3":
        tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, **names)
    else:  # Llama 3: a generic fast tokenizer whose post-processor writes BOS
        backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        backend.add_special_tokens(list(family.trailing))
        bos = str(family.bos)
        backend.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                special_tokens=[(bos, backend.token_to_id(bos))]),
        ])
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **names)
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False)
                          for t in family.trailing if t not in tokenizer.get_vocab()],
                         special_tokens=True)
    if family.plain:
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False)
                              for t in family.plain])
    return tokenizer


def _unreadable(tokenizer: Any) -> list[int]:
    """Learned tokens that alone decode to a broken character or a control character."""
    added = set(tokenizer.added_tokens_encoder)
    bad = []
    for token, tid in tokenizer.get_vocab().items():
        if token in added:
            continue
        text = tokenizer.decode([tid])
        if "\ufffd" in text or any(ord(c) < 32 and c not in "\n\t" for c in text):
            bad.append(tid)
    return sorted(bad)


def _read_template(template: str | os.PathLike[str] | Literal[False] | None, arch: str
                   ) -> str | None:
    if template is False:
        return None
    if template is None:
        return OWN_TEMPLATES[arch]
    return Path(template).read_text(encoding="utf-8")


# --- model ----------------------------------------------------------------------------------


def _config(arch: str, family: ChatFamily, shape: dict[str, Any], ids: dict[str, int],
            vocab_size: int, max_positions: int, sliding_window: int) -> Any:
    from transformers import Gemma3TextConfig, Gemma4TextConfig, LlamaConfig, Qwen3Config

    common = {k: shape[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                    "num_attention_heads", "num_key_value_heads", "head_dim")}
    common.update(
        tie_word_embeddings=False,
        vocab_size=vocab_size, max_position_embeddings=max_positions,
        bos_token_id=ids.get(family.gen_bos or ""), pad_token_id=ids.get(family.gen_pad),
        eos_token_id=[ids[t] for t in family.stop] if arch == "llama" else ids[family.eos],
    )
    layers = shape["num_hidden_layers"]
    # Sliding layers first, the last one full, as in the published Gemma configs.
    layer_types = ["sliding_attention"] * (layers - 1) + ["full_attention"]
    if arch == "qwen3":
        return Qwen3Config(**common)
    if arch == "llama":
        return LlamaConfig(**common, rope_theta=500000.0)
    if arch in ("gemma3", "translategemma"):
        return Gemma3TextConfig(**common, query_pre_attn_scalar=shape["head_dim"],
                                sliding_window=sliding_window, layer_types=layer_types)
    return Gemma4TextConfig(**common, sliding_window=sliding_window, layer_types=layer_types,
                            global_head_dim=2 * shape["head_dim"],
                            hidden_size_per_layer_input=max(4, shape["head_dim"]),
                            vocab_size_per_layer_input=vocab_size)


def build_chat_model(
    folder: str | os.PathLike[str],
    arch: str,
    *,
    template: str | os.PathLike[str] | Literal[False] | None = None,
    size: str | Mapping[str, Any] = "tiny",
    corpus: Sequence[str] | None = None,
    max_positions: int = 4096,
    sliding_window: int = 512,
    readable: bool = True,
    seed: int = 0,
    answer_tokens: int | None = 32,
) -> Path:
    """Save a random-weight chat model of ``arch`` with a real tokenizer and chat template.

    Args:
        folder: Folder to write (created).
        arch: One of :data:`CHAT_ARCHS`: ``qwen3`` (Qwen3ForCausalLM), ``gemma3``
            (Gemma3ForCausalLM, ``gemma3_text``), ``llama`` (LlamaForCausalLM), ``gemma4``
            (Gemma4ForCausalLM, ``gemma4_text``) or ``translategemma`` (Gemma 3 text with a
            translation-only template whose user content is one
            ``{type, source_lang_code, target_lang_code, text}`` item).
        template: A ``.jinja`` file to use as the chat template (read now, e.g. a published
            template kept outside the repository); None: the project's own template for
            ``arch`` (:data:`OWN_TEMPLATES`); False: no chat template at all.
        size: A key of :data:`CHAT_SHAPES` (``tiny``; published shapes for benchmarks) or
            a mapping that overrides some of ``tiny``'s keys.
        corpus: Lines to train the tokenizer on (a :data:`CORPUS_BPE` vocabulary); default:
            the built-in sentences in several scripts (:data:`TINY_BPE`).
        max_positions: ``max_position_embeddings`` (the context window engines read).
        sliding_window: Window of the Gemma sliding-attention layers.
        readable: Suppress, in the generation config, the learned tokens that are not whole
            UTF-8 characters on their own, so random weights write readable noise.
        answer_tokens: ``max_new_tokens`` of the generation config (None: unset, for the
            benchmarks' published-size models).
        seed: Weight initialisation seed.

    Returns:
        The folder, loadable offline with ``AutoModelForCausalLM.from_pretrained`` and
        ``AutoTokenizer.from_pretrained``.

    Raises:
        ValueError: Unknown ``arch`` or ``size``.
        OSError: ``template`` cannot be read.
    """
    if arch not in FAMILIES:
        raise ValueError(f"unknown chat architecture {arch!r}; choose from {', '.join(FAMILIES)}")
    if isinstance(size, str) and size not in CHAT_SHAPES:
        raise ValueError(f"unknown size {size!r}; choose from {', '.join(CHAT_SHAPES)}")
    chat_template = _read_template(template, arch)
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    family = FAMILIES[arch]
    shape = dict(CHAT_SHAPES[size]) if isinstance(size, str) else {**CHAT_SHAPES["tiny"], **size}
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    if corpus is None:
        texts, learned = (SENTENCES + MULTILINGUAL_SENTENCES + _WORDS) * 3, TINY_BPE
    else:
        texts, learned = [*corpus, *_WORDS], CORPUS_BPE
    tokenizer = _tokenizer(arch, family, texts, learned, shape["vocab_size"], max_positions)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    vocab = tokenizer.get_vocab()
    ids = {t: vocab[t] for t in (*family.leading, *family.trailing, *family.plain)}
    config = _config(arch, family, shape, ids, len(tokenizer), max_positions, sliding_window)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    generation = GenerationConfig(
        bos_token_id=ids.get(family.gen_bos or ""),
        eos_token_id=[ids[t] for t in family.stop],
        pad_token_id=ids[family.gen_pad],
        do_sample=False,
        # random weights seldom write a stop token: short answers keep the demo and the
        # tests quick (the engine honours a model's own smaller limit)
        max_new_tokens=answer_tokens,
    )
    if readable:
        generation.suppress_tokens = _unreadable(tokenizer)
    model.generation_config = generation
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
