"""The benchmark's texts: news sentences to translate and articles to summarize.

The NTREX-128 sample shipped in ``summarize/devtools/benchdata`` (CC BY-SA 4.0, see its
ATTRIBUTION), or ``--text FILE`` (one sentence per line; articles are blocks separated by
blank lines), or with ``--data DIR`` the shared development data (WMT19/NTREX sentences,
CNN/DailyMail articles). Also the corpora the random models' tokenizers are trained on.
"""

from __future__ import annotations

from pathlib import Path

CNNDM_ARTICLES = "cnndm_frank_250/articles"
NTREX_SENTENCES = "ntrex128_news/sentences/newstest2019-src.eng.txt"
NTREX_GERMAN = "ntrex128_news/sentences/newstest2019-ref.deu.txt"
#: The shipped sample: NTREX-128 English documents, one sentence per line, blank-line blocks.
SAMPLE_TEXT = Path(__file__).resolve().parents[1] / "benchdata" / "ntrex_en.txt"


def _blocks(path: Path) -> list[list[str]]:
    """A text file as blocks of non-empty lines (blocks are separated by blank lines)."""
    blocks: list[list[str]] = [[]]
    for line in path.read_text("utf-8").splitlines():
        line = " ".join(line.split())
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def check_data_dir(data_dir: Path) -> None:
    """Refuse a ``--data`` folder that holds neither the articles nor the sentences.

    Raises:
        ValueError: Neither is there (the message names both paths).
    """
    if not (data_dir / CNNDM_ARTICLES).is_dir() and not (data_dir / NTREX_SENTENCES).is_file():
        raise ValueError(f"--data {data_dir}: neither {CNNDM_ARTICLES} nor "
                         f"{NTREX_SENTENCES} is there")


def load_articles(n: int, data_dir: Path | None = None, text: Path | None = None
                  ) -> list[str]:
    """``n`` articles: blocks of ``text``, else CNN/DailyMail from ``data_dir``, else the sample.

    Args:
        n: How many articles; fewer are returned when fewer exist.
        data_dir: The shared data folder (used only when given).
        text: A text file; each blank-line-separated block (or, with no blank line, each
            line) is one article.
    """
    if text is None and data_dir is not None and (data_dir / CNNDM_ARTICLES).is_dir():
        files = sorted(p for p in (data_dir / CNNDM_ARTICLES).glob("*.txt") if p.is_file())
        texts = [" ".join(p.read_text("utf-8").split()) for p in files]
        return [t for t in texts if t][:n]
    blocks = _blocks(text or SAMPLE_TEXT)
    if text is not None and len(blocks) == 1:
        blocks = [[line] for line in blocks[0]]
    return [" ".join(b) for b in blocks][:n]


def load_sentences(n: int, data_dir: Path | None = None, lang: str = "en",
                   text: Path | None = None) -> list[str]:
    """``n`` distinct news sentences, each one sentence to the engine's splitter.

    The lines of ``text``, else the WMT19 news test set (NTREX) of ``data_dir``, else the
    shipped sample, are read in order; a line that the engine's sentence splitter would cut
    into several sentences is left out, so that every side translates exactly the same
    segments.
    """
    from summarize.text import segment_text

    if text is None and data_dir is not None and (data_dir / NTREX_SENTENCES).is_file():
        lines = (data_dir / NTREX_SENTENCES).read_text("utf-8").splitlines()
    else:
        lines = [line for block in _blocks(text or SAMPLE_TEXT) for line in block]
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


def corpus(data_dir: Path | None) -> list[str]:
    """English news text for training tokenizers (shared data when given, else the sample)."""
    if data_dir is None:
        return [line for block in _blocks(SAMPLE_TEXT) for line in block]
    texts = load_articles(10_000, data_dir)
    for path in sorted((data_dir / "bbc_news_summary_100" / "article").glob("*/*.txt")):
        texts.append(path.read_text("utf-8", "replace"))
    path = data_dir / NTREX_SENTENCES
    if path.is_file():
        texts.extend(path.read_text("utf-8").splitlines())
    return [line for text in texts for line in text.splitlines() if line.strip()]


def target_corpus(data_dir: Path | None) -> list[str]:
    """German news text for a translator's target side (NTREX's references when given)."""
    path = data_dir / NTREX_GERMAN if data_dir else None
    if path is not None and path.is_file():
        return [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    return corpus(data_dir)


def write_memory_inputs(folder: Path, n: int, data_dir: Path | None = None,
                        text: Path | None = None) -> Path:
    """Write ``n`` distinct article files by cycling the real articles (each made unique)."""
    articles = load_articles(10_000, data_dir, text)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = articles[i % len(articles)]
        (folder / f"article-{i:05d}.txt").write_text(
            f"Report number {i} from the news desk. {body}\n", encoding="utf-8")
    return folder
