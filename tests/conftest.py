"""Shared fixtures: offline hub, tiny real models built once per session, sample inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests import tiny_models  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]


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
