"""Which models a run uses: the defaults table, the local ``models/`` store, downloads.

Nothing here imports torch at module level, so ``summarize models list`` and the resume
check (which needs each model's revision, not its weights) stay fast.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from summarize.errors import ModelLoadError

SOURCE_FILE = "summarize-source.json"

DEFAULT_SUMMARIZER = "sshleifer/distilbart-cnn-12-6"
MULTILINGUAL_FALLBACK = "facebook/m2m100_418M"
#: The default with a GPU (``--backend vllm``, ``--device cuda``, or ``auto`` on a machine
#: with an NVIDIA GPU): one instruction-tuned chat model for both roles (Apache-2.0, 4B,
#: no thinking mode; see the README's "Choosing models"). On a CPU the seq2seq models stay
#: the default: a 4B chat model reads and writes token by token, far slower there.
DEFAULT_CHAT = "Qwen/Qwen3-4B-Instruct-2507"

# Licences as published on each model card; all allow commercial use.
KNOWN_LICENSES = {
    "sshleifer/distilbart-cnn-12-6": "apache-2.0",
    "facebook/bart-large-cnn": "mit",
    "google/pegasus-cnn_dailymail": "apache-2.0",
    "Helsinki-NLP/opus-mt-tc-big-en-ko": "cc-by-4.0",
    "Helsinki-NLP/opus-mt-en-de": "cc-by-4.0",
    "Helsinki-NLP/opus-mt-en-fr": "apache-2.0",
    "Helsinki-NLP/opus-mt-en-es": "apache-2.0",
    "Helsinki-NLP/opus-mt-en-it": "apache-2.0",
    "Helsinki-NLP/opus-mt-en-nl": "apache-2.0",
    "Helsinki-NLP/opus-mt-en-ru": "apache-2.0",
    "Helsinki-NLP/opus-mt-en-zh": "apache-2.0",
    "Helsinki-NLP/opus-mt-en-ar": "apache-2.0",
    "facebook/m2m100_418M": "mit",
    "Qwen/Qwen3-4B-Instruct-2507": "apache-2.0",
}

# English source -> best default per target. Other pairs use the multilingual fallback.
DEFAULT_TRANSLATORS = {
    "ko": "Helsinki-NLP/opus-mt-tc-big-en-ko",
    "de": "Helsinki-NLP/opus-mt-en-de",
    "fr": "Helsinki-NLP/opus-mt-en-fr",
    "es": "Helsinki-NLP/opus-mt-en-es",
    "it": "Helsinki-NLP/opus-mt-en-it",
    "nl": "Helsinki-NLP/opus-mt-en-nl",
    "ru": "Helsinki-NLP/opus-mt-en-ru",
    "zh": "Helsinki-NLP/opus-mt-en-zh",
    "ar": "Helsinki-NLP/opus-mt-en-ar",
}
# Source -> English (for English targets and the pivot through English); their licences are
# read from the model card when the model is stored (not verified here: no hub access).
TO_ENGLISH = {
    lang: f"Helsinki-NLP/opus-mt-{lang}-en"
    for lang in ("ko", "ja", "zh", "de", "fr", "es", "it", "nl", "ru", "ar")
}
#: Every per-pair default: (source, target) -> model; other pairs use MULTILINGUAL_FALLBACK.
PAIR_TRANSLATORS: dict[tuple[str, str], str] = {
    **{("en", target): model for target, model in DEFAULT_TRANSLATORS.items()},
    **{(source, "en"): model for source, model in TO_ENGLISH.items()},
}

def gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU, without importing torch (the driver's
    device files): decides the default models before anything loads."""
    gpus = Path("/proc/driver/nvidia/gpus")
    try:
        return (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists()
    except OSError:
        return False


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def default_translator(source: str, target: str) -> str:
    """The default translation model for a language pair (normalized ISO codes): the
    per-pair table, else the multilingual fallback (M2M100, 100 languages)."""
    return PAIR_TRANSLATORS.get((source, target), MULTILINGUAL_FALLBACK)


def is_hub_id(model: str) -> bool:
    """Whether ``model`` is shaped like a hub id (``org/name``), with no path tricks."""
    return bool(_HUB_ID.fullmatch(model)) and ".." not in model


def local_model_dir(model: str, models_dir: Path) -> Path | None:
    """The folder holding ``model`` locally: the path itself, or its copy under ``models_dir``."""
    as_path = Path(model).expanduser()
    if as_path.is_dir():
        return as_path
    if is_hub_id(model):
        stored = models_dir / model
        if (stored / "config.json").is_file():
            return stored
    return None


def model_fingerprint(model: str, models_dir: Path) -> str:
    """A cheap identity of a model's exact files, for the resume key (no weights read).

    A local folder is identified by its recorded revision, or by the names, sizes and
    modification times of its files; a hub id by the commit its cached ``main`` points to.
    """
    folder = local_model_dir(model, models_dir)
    if folder is not None:
        source = folder / SOURCE_FILE
        if source.is_file():
            try:
                revision = json.loads(source.read_text("utf-8")).get("revision")
                if revision:
                    return f"{model}@{revision}"
            except (OSError, ValueError):
                pass
        digest = hashlib.sha256()
        for path in sorted(folder.iterdir()):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return f"{model}@files:{digest.hexdigest()[:16]}"
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        ref = Path(HF_HUB_CACHE) / f"models--{model.replace('/', '--')}" / "refs" / "main"
        if ref.is_file():
            return f"{model}@{ref.read_text().strip()}"
    except ImportError:
        pass
    return f"{model}@unknown"


@dataclass(frozen=True)
class StoredModel:
    """A model folder under ``models/``."""

    model_id: str
    path: Path
    revision: str | None
    size_mb: float


def list_stored(models_dir: Path) -> list[StoredModel]:
    """Model folders under ``models_dir`` (``name`` or ``org/name``), sorted by id."""
    found: list[StoredModel] = []
    if not models_dir.is_dir():
        return found
    for config in sorted(models_dir.glob("*/config.json")) + sorted(
        models_dir.glob("*/*/config.json")
    ):
        folder = config.parent
        if any(part.startswith(".") for part in folder.relative_to(models_dir).parts):
            continue  # the tool's own stores (.ct2 conversions), not models
        revision = None
        if (folder / SOURCE_FILE).is_file():
            try:
                revision = json.loads((folder / SOURCE_FILE).read_text("utf-8")).get("revision")
            except (OSError, ValueError):
                revision = None
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        found.append(StoredModel(folder.relative_to(models_dir).as_posix(), folder, revision,
                                 size / 1e6))
    return found


def download_model(model_id: str, models_dir: Path, *, allow_pickle: bool = False) -> Path:
    """Fetch a hub model and store it under ``models_dir/<model_id>`` as safetensors.

    The model is loaded once (so pickle-only repositories are converted, when allowed) and
    saved with ``save_pretrained``; the model card and the hub revision are kept beside it.
    The copy is written to a temporary folder and renamed into place, so an interrupted
    download never leaves a half-written model that later runs would use.

    Raises:
        ModelLoadError: The id is malformed or the model cannot be fetched.
    """
    if not is_hub_id(model_id) or "/" not in model_id:
        raise ModelLoadError(f"'{model_id}' is not a hub model id such as org/name")
    from summarize.backends.hf_torch import load_backend

    backend = load_backend(model_id, role="model", models_dir=models_dir / "__none__",
                           device="cpu", dtype="float32", allow_pickle=allow_pickle,
                           cpu_tuning=False, downloading=True)
    target = models_dir / model_id
    tmp = target.with_name(target.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    backend.save_pretrained(tmp)
    try:
        from huggingface_hub import hf_hub_download

        card = hf_hub_download(model_id, "README.md")
        (tmp / "README.md").write_bytes(Path(card).read_bytes())
    except Exception:  # the card only carries the licence; the model works without it
        pass
    (tmp / SOURCE_FILE).write_text(
        json.dumps({"model_id": model_id, "revision": backend.info.revision}, indent=2), "utf-8"
    )
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return target
