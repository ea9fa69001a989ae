"""Shared fixtures: offline hub, tiny real models built once per session, sample inputs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests import tiny_models  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]
CHAT_TEMPLATES = SHARED_DATA / "chat_templates"
#: The published template each tiny chat architecture is tested with. They stay outside the
#: repository (read by path; tests that need them skip when the folder is absent).
REAL_TEMPLATES = {
    "qwen3": "Qwen--Qwen3-1.7B.jinja",
    "gemma3": "google--gemma-3-1b-it.jinja",
    "llama": "meta-llama--Llama-3.2-3B-Instruct.jinja",
    "gemma4": "google--gemma-4-it.jinja",
    "translategemma": "google--translategemma-4b-it.jinja",
}


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny_models")


@pytest.fixture(scope="session")
def tiny_bart(tiny_dir: Path) -> Path:
    return tiny_models.build_bart(tiny_dir / "bart")


@pytest.fixture(scope="session")
def tiny_marian(tiny_dir: Path) -> Path:
    return tiny_models.build_marian(tiny_dir / "opus-mt-en-ko")


@pytest.fixture(scope="session")
def tiny_marian_multi(tiny_dir: Path) -> Path:
    return tiny_models.build_marian(tiny_dir / "opus-mt-en-mul", targets=("kor", "jpn"))


@pytest.fixture(scope="session")
def tiny_m2m(tiny_dir: Path) -> Path:
    """The tiny multilingual M2M100 translator (``__en__`` ... ``__zu__`` language tokens)."""
    return tiny_models.build_m2m(tiny_dir / "m2m-multi")


def _real_template(arch: str) -> Path:
    path = CHAT_TEMPLATES / REAL_TEMPLATES[arch]
    if not path.is_file():
        pytest.skip(f"published chat template not available: {path}")
    return path


@pytest.fixture(scope="session")
def real_chat_template() -> Callable[[str], Path]:
    """``real_chat_template(arch)``: the published template file for a tiny chat
    architecture (:data:`REAL_TEMPLATES`); skips the test when ../shared is absent."""
    return _real_template


@pytest.fixture(scope="session")
def tiny_chat(tiny_dir: Path) -> Callable[..., Path]:
    """``tiny_chat(arch, template="own")``: a tiny chat model built once per session.

    ``arch`` is one of ``tinychat.CHAT_ARCHS`` (qwen3, gemma3, llama, gemma4,
    translategemma); ``template`` is ``"own"`` (the project's own template), ``"real"`` (the
    published one; skips when ../shared is absent) or ``"none"`` (no chat template).
    """
    built: dict[tuple[str, str], Path] = {}

    def get(arch: str, template: str = "own") -> Path:
        if (arch, template) not in built:
            chosen = {"own": None, "none": False}.get(template)
            if template == "real":
                chosen = _real_template(arch)
            elif template not in ("own", "none"):
                raise ValueError(f"template must be own, real or none, not {template!r}")
            built[arch, template] = tiny_models.build_chat_model(
                tiny_dir / f"chat-{arch}-{template}", arch, template=chosen)
        return built[arch, template]

    return get


ARTICLES = {
    "world/election.txt": (
        "Voters head to the polls\n\n"
        "Officials said on Monday that the talks would continue next week. "
        "The government has promised to publish the report before the election.\n\n"
        "Markets rose sharply after the announcement by the central bank."
    ),
    "science/vaccine.md": (
        "# Vaccine trial results\n\n"
        "Scientists found that the new vaccine was safe and effective. "
        "The quick brown fox jumps over the lazy dog."
    ),
    "crime.txt": "Police arrested two men after a robbery in the city centre. " * 3,
}


@pytest.fixture()
def article_dir(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    for rel, text in ARTICLES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


#: A folder of articles in several languages and formats: English, Korean and German files,
#: and a .jsonl of a Japanese and a French record.
MIXED_ARTICLES = {
    "council.txt": (
        "Budget approved\n\n"
        "The city council approved the new budget on Tuesday. "
        "Heavy rain caused flooding in several villages overnight."
    ),
    "seoul/budget-ko.txt": (
        "예산안 승인\n\n"
        "시의회는 화요일에 새 예산안을 승인했다. 밤사이 폭우로 여러 마을이 물에 잠겼다."
    ),
    "berlin/hochwasser.html": (
        "<!doctype html><html lang=\"de\"><head><title>Hochwasser</title></head><body>"
        "<article><h1>Hochwasser</h1><p>Der Stadtrat hat am Dienstag den neuen Haushalt "
        "beschlossen. Starker Regen hat über Nacht mehrere Dörfer überflutet.</p></article>"
        "</body></html>"
    ),
    "wire.jsonl": "\n".join(json.dumps(r, ensure_ascii=False) for r in (
        {"id": "tokyo-1", "title": "予算案を承認",
         "text": "市議会は火曜日に新しい予算案を承認した。大雨で夜の間にいくつかの村が浸水した。"},
        {"id": "paris-1", "title": "Budget adopté",
         "text": "Le conseil municipal a approuvé le nouveau budget mardi. De fortes pluies "
                 "ont inondé plusieurs villages pendant la nuit."},
    )) + "\n",
}


@pytest.fixture()
def mixed_article_dir(tmp_path: Path) -> Path:
    """:data:`MIXED_ARTICLES` written under ``tmp_path / "mixed"`` (en, ko, de, ja, fr)."""
    root = tmp_path / "mixed"
    for rel, text in MIXED_ARTICLES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
