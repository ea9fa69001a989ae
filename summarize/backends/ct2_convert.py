"""Convert Hugging Face seq2seq models for CTranslate2, once, into the local model store.

A conversion goes into ``<models_dir>/.ct2/<name>-<revision>-<quantization>/``: it is written
into a temporary folder beside it, gets its completion marker (``.complete``) last and is then
renamed into place, so an interrupted one is never used: a folder without the marker, or a
leftover temporary folder of a dead process, is removed and redone.

Converter pitfalls handled here (see :class:`_Converter`): the vocabulary is rebuilt id by
id from the tokenizer and padded or cut to the embedding rows; Marian keeps its ``<pad>`` row
and starts the decoder from it, as transformers does; BART-family configs without the
normalization keys get the family's values; the decoder start token is the model's own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import ctranslate2

from summarize.errors import ModelLoadError

log = logging.getLogger(__name__)

STORE = ".ct2"
MARKER = ".complete"
#: Bump when the conversion recipe changes: stored conversions of another version are redone.
RECIPE_VERSION = 1
_T5_FAMILY = frozenset({"t5", "mt5", "umt5", "longt5"})
# Families whose transformers config may lack the keys the converter reads, with their values.
_NORM_DEFAULTS: dict[str, dict[str, bool]] = {
    "bart": {"normalize_before": False, "normalize_embedding": True,
             "add_final_layer_norm": False},
    "mbart": {"normalize_before": True, "normalize_embedding": True,
              "add_final_layer_norm": True},
    "pegasus": {"normalize_before": True, "normalize_embedding": False,
                "add_final_layer_norm": True},
}
_CONVERT_LOCK = threading.Lock()


def _safe_name(model: str) -> str:
    name = model.rstrip("/\\")
    if Path(name).expanduser().is_dir():
        name = Path(name).expanduser().resolve().name
    return re.sub(r"[^A-Za-z0-9._-]+", "--", name).strip("-.") or "model"


def files_hash(folder: Path) -> str:
    """A short fingerprint of a model folder: config bytes, and each file's name and size."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        if path.name in ("config.json", "generation_config.json"):
            digest.update(path.read_bytes())
        else:
            digest.update(str(path.stat().st_size).encode())
    digest.update(str(folder.resolve()).encode())
    return digest.hexdigest()[:12]


def store_dir(models_dir: Path, model: str, revision: str | None, folder: Path | None,
              quantization: str) -> Path:
    """Where the conversion of ``model`` at ``revision`` with ``quantization`` lives."""
    if revision:
        key = re.sub(r"[^A-Za-z0-9]+", "", revision)[:12] or "rev"
    elif folder is not None:
        key = "files" + files_hash(folder)
    else:
        key = "norev"
    return Path(models_dir) / STORE / f"{_safe_name(model)}-{key}-{quantization}"


def is_complete(path: Path) -> bool:
    """Whether ``path`` holds a finished conversion of the current recipe."""
    marker = path / MARKER
    if not marker.is_file() or not (path / "model.bin").is_file():
        return False
    try:
        return json.loads(marker.read_text("utf-8")).get("recipe") == RECIPE_VERSION
    except (OSError, ValueError):
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clear_leftovers(target: Path) -> None:
    """Remove a folder without its marker and the temporary folders of dead conversions."""
    if target.exists() and not is_complete(target):
        log.info("removing unfinished conversion %s", target)
        shutil.rmtree(target, ignore_errors=True)
    for tmp in target.parent.glob(f".{target.name}.partial-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not _pid_alive(int(pid)) or int(pid) == os.getpid():
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_converted(source: str, target: Path, *, quantization: str, model_id: str,
                     revision: str | None, trust_remote_code: bool = False,
                     allow_pickle: bool = False) -> tuple[Path, bool]:
    """The converted model at ``target``, converting it first when needed.

    Returns:
        (the folder, whether this call converted it).

    Raises:
        ModelLoadError: The converter cannot convert this model.
    """
    if is_complete(target):
        return target, False
    with _CONVERT_LOCK:
        if is_complete(target):
            return target, False
        target.parent.mkdir(parents=True, exist_ok=True)
        _clear_leftovers(target)
        tmp = target.parent / f".{target.name}.partial-{os.getpid()}"
        started = time.perf_counter()
        from ctranslate2.converters import transformers as ct2t

        loaders = dict(ct2t._MODEL_LOADERS)  # _patch_loader replaces one for this conversion
        try:
            converter = _Converter(source, trust_remote_code=trust_remote_code,
                                   allow_pickle=allow_pickle)
            try:
                converter.convert(str(tmp), quantization=quantization, force=True)
            finally:
                ct2t._MODEL_LOADERS.clear()
                ct2t._MODEL_LOADERS.update(loaders)
            (tmp / MARKER).write_text(json.dumps({
                "model_id": model_id, "revision": revision, "quantization": quantization,
                "recipe": RECIPE_VERSION, "ctranslate2": ctranslate2.__version__,
                "seconds": round(time.perf_counter() - started, 2),
            }, indent=2), "utf-8")
        except ModelLoadError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelLoadError(
                f"cannot convert '{model_id}' for CTranslate2: {first}; use --backend torch"
            ) from exc
        try:
            tmp.rename(target)
        except OSError:  # another process finished the same conversion first
            shutil.rmtree(tmp, ignore_errors=True)
            if not is_complete(target):
                raise
        return target, True


class _Converter(ctranslate2.converters.TransformersConverter):
    """``TransformersConverter`` with this project's fixes (see the module docstring)."""

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
