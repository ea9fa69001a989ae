"""The CTranslate2 converter with this project's fixes, made on first use (importing
``ctranslate2.converters`` imports torch and transformers, which importing the ct2 engine
must not).

Converter pitfalls handled here: the vocabulary is rebuilt id by id from the tokenizer and
padded or cut to the embedding rows (opus-mt and NLLB have more rows than tokens, some
tokenizers more tokens than rows); Marian keeps its ``<pad>`` row and starts the decoder
from it, as transformers does, instead of the converter's drop-the-last-row rule (wrong when
``<pad>`` is not the last id); BART-family configs without the normalization keys get the
family's values; the decoder start token is the model's own ``decoder_start_token_id``.
"""

from __future__ import annotations

import functools
from typing import Any

# Families whose transformers config may lack the keys the converter reads, with their values.
_NORM_DEFAULTS: dict[str, dict[str, bool]] = {
    "bart": {"normalize_before": False, "normalize_embedding": True,
             "add_final_layer_norm": False},
    "mbart": {"normalize_before": True, "normalize_embedding": True,
              "add_final_layer_norm": True},
    "pegasus": {"normalize_before": True, "normalize_embedding": False,
                "add_final_layer_norm": True},
}


@functools.cache
def converter_class() -> type:
    """``TransformersConverter`` with this project's fixes (see the module docstring).

    Made on first use: importing ``ctranslate2.converters`` imports torch and transformers,
    which importing this module (and the ct2 engine) must not.
    """
    import ctranslate2.converters

    class _Converter(ctranslate2.converters.TransformersConverter):

        def __init__(self, source: str, *, trust_remote_code: bool, allow_pickle: bool):
            super().__init__(source, trust_remote_code=trust_remote_code)
            self._allow_pickle = allow_pickle

        def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            kwargs.setdefault("use_safetensors", None if self._allow_pickle else True)
            model = model_class.from_pretrained(model_name_or_path, **kwargs)
            config = model.config
            for key, value in _NORM_DEFAULTS.get(config.model_type, {}).items():
                if not hasattr(config, key):
                    setattr(config, key, value)
            return model

        def _load(self) -> Any:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(self._model_name_or_path,
                                                trust_remote_code=self._trust_remote_code)
            _patch_loader(config)
            return super()._load()

    return _Converter


def _patch_loader(config: Any) -> None:
    """Give this conversion a loader that fixes vocabulary, Marian's pad and the start token.

    The converter looks its loader up in a module table of shared instances; the fixed
    loader is a subclass instance put there for the duration of this conversion only
    (conversions run one at a time under :data:`_CONVERT_LOCK`).
    """
    from ctranslate2.converters import transformers as ct2t

    name = config.__class__.__name__
    base = ct2t._MODEL_LOADERS.get(name)
    if base is None:
        return  # the converter raises its own "no conversion is registered" error
    marian = isinstance(base, ct2t.MarianMTLoader)
    base_cls = type(base)

    class Fixed(base_cls):  # type: ignore[misc, valid-type]
        def get_model_spec(self, model: Any) -> Any:
            if marian:  # keep every row, <pad> included: the decoder starts from it
                model.config.normalize_before = False
                model.config.normalize_embedding = False
                return ct2t.BartLoader.get_model_spec(self, model)
            return super().get_model_spec(model)

        def set_decoder(self, spec: Any, decoder: Any) -> None:
            if marian:
                ct2t.BartLoader.set_decoder(self, spec, decoder)
            else:
                super().set_decoder(spec, decoder)

        def get_vocabulary(self, model: Any, tokenizer: Any) -> list[str]:
            return vocabulary(tokenizer, model.get_input_embeddings().weight.shape[0])

        def set_config(self, config: Any, model: Any, tokenizer: Any) -> None:
            super().set_config(config, model, tokenizer)
            tokens = vocabulary(tokenizer, model.get_input_embeddings().weight.shape[0])
            start = _decoder_start_id(model)
            if start is not None and start < len(tokens):
                config.decoder_start_token = tokens[start]
            # CTranslate2 needs every named special token (a tiny mBART-50 has no bos)
            for key in ("bos_token", "eos_token", "unk_token"):
                if hasattr(config, key) and getattr(config, key) is None:
                    index = getattr(model.config, f"{key}_id", None)
                    fallback = tokens[index] if isinstance(index, int) and \
                        index < len(tokens) else config.eos_token or tokens[0]
                    setattr(config, key, fallback)

    ct2t._MODEL_LOADERS[name] = Fixed()


def _decoder_start_id(model: Any) -> int | None:
    gen = getattr(model, "generation_config", None)
    start = getattr(gen, "decoder_start_token_id", None)
    if start is None:
        start = getattr(model.config, "decoder_start_token_id", None)
    return start if isinstance(start, int) else None


def vocabulary(tokenizer: Any, rows: int) -> list[str]:
    """The CTranslate2 vocabulary: the tokenizer's token of each id, one per embedding row.

    Ids the tokenizer does not produce (NLLB and opus-mt pad their embeddings) get unique
    filler names; tokens beyond the embedding rows are dropped; a duplicate name (two ids
    spelled alike) is renamed, since CTranslate2 maps tokens to ids by name.
    """
    by_id: dict[int, str] = {}
    # M2M100's language tokens are in none of get_vocab(), len(tokenizer) or added tokens
    tables = [tokenizer.get_vocab(), getattr(tokenizer, "added_tokens_encoder", None),
              getattr(tokenizer, "lang_token_to_id", None)]
    for table in tables:
        for token, index in (table or {}).items():
            if isinstance(index, int) and 0 <= index < rows:
                by_id.setdefault(index, token)
    unk = getattr(tokenizer, "unk_token", None)
    tokens: list[str] = []
    seen: set[str] = set()
    for index in range(rows):
        token = by_id.get(index)
        if token is None:
            try:
                token = tokenizer.convert_ids_to_tokens(index)
            except Exception:  # an id the tokenizer cannot name gets a filler
                token = None
            if token == unk:
                token = None
        if not isinstance(token, str) or token in seen:
            token = f"<ct2_unused_{index}>"
        seen.add(token)
        tokens.append(token)
    return tokens
