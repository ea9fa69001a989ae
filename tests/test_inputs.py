"""Tests of summarize.inputs: finding files, decoding, and turning files into articles."""

from __future__ import annotations

import codecs
import csv
import json
import os
from pathlib import Path

import pytest

from summarize.errors import ArticleError, UsageError
from summarize.inputs import (
    ARTICLE_SUFFIXES,
    SourceFile,
    decode_bytes,
    find_files,
    read_file,
)
from summarize.inputs import discover as inputs_discover
from summarize.records import Article, InputFailure, Skipped
from summarize.text import clean_text, split_sentences

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

KOREAN = (
    "서울시는 오늘 새로운 교통 정책을 발표했다. 시민들은 대체로 환영하는 분위기다. "
    "시행은 다음 달부터다."
)
JAPANESE = "東京都は本日、新しい交通政策を発表した。市民の多くは歓迎している。施行は来月からだ。"
CHINESE = "北京市今天公布了新的交通政策。市民普遍表示欢迎。该政策将于下月实施。"
TRADITIONAL = "台北市今天公布了新的交通政策。市民普遍表示歡迎。該政策將於下月實施。"
FRENCH = "Café crème à la française, naïve résumé. Le garçon était très âgé à Noël."
GERMAN = "Grüße aus München! Die Straße ist schön, und das Öl ist teuer."
SPANISH = "¿Qué tal? El niño comió piña en España, según el señor Muñoz."
RUSSIAN = "Привет, как дела? Это тестовое сообщение на русском языке."


def write(base: Path, rel: str, content: str | bytes) -> Path:
    path = base / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def read_one(path: Path, rel: str | None = None, **kwargs) -> Article | InputFailure:
    [item] = read_list(SourceFile(path=path, rel=rel or path.name), **kwargs)
    return item


def articles(items) -> list[Article]:
    return [i for i in items if isinstance(i, Article)]


def read_list(src: SourceFile, *args, **kwargs) -> list[Article | InputFailure]:
    return list(read_file(src, *args, **kwargs))


def read_all(paths: list[Path]) -> list[Article | InputFailure]:
    """Every article and failure under ``paths``, as the pipeline reads them."""
    files, _, scan_failures = find_files(paths)
    return [*scan_failures, *(item for src in files for item in read_file(src))]


def failures(items) -> list[InputFailure]:
    return [i for i in items if isinstance(i, InputFailure)]


# --- decoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (KOREAN, "cp949"),
        (KOREAN, "euc-kr"),
        ("정부는 내년 예산안을 국회에 제출했다. 야당은 강하게 반발했다.", "euc-kr"),
        (JAPANESE, "shift_jis"),
        (JAPANESE, "euc_jp"),
        (JAPANESE, "iso2022_jp"),
        (CHINESE, "gb18030"),
        (CHINESE, "gb2312"),
        (TRADITIONAL, "big5"),
        (FRENCH, "latin-1"),
        (GERMAN, "latin-1"),
        (SPANISH, "latin-1"),
        ("“Smart quotes” – an en dash, and €100 for a café.", "cp1252"),
        (RUSSIAN, "cp1251"),
        (KOREAN + "\nEnglish too.", "utf-8"),
        (FRENCH, "utf-8-sig"),
        (KOREAN, "utf-16"),  # with BOM
        (FRENCH + "\nSecond line.", "utf-16-le"),  # without BOM
        (KOREAN + "\n둘째 줄.", "utf-16-be"),  # without BOM
        (JAPANESE, "utf-32"),  # with BOM
        ("Plain text, no BOM.\n", "utf-32-le"),
    ],
)
def test_decode_bytes_encodings(text, encoding):
    assert decode_bytes(text.encode(encoding)) == text


@pytest.mark.parametrize(("text", "encoding"), [("안녕하세요", "cp949"), ("café", "latin-1")])
def test_decode_bytes_very_short_legacy_text(text, encoding):
    assert decode_bytes(text.encode(encoding)) == text


def test_read_file_decodes_legacy_korean(tmp_path):
    path = write(tmp_path, "korean.txt", KOREAN.encode("cp949"))
    article = read_one(path)
    assert article == Article(id="korean.txt", source=str(path), text=KOREAN)


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 10,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(200),
        bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 65]) * 50,
    ],
)
def test_binary_content(tmp_path, data):
    with pytest.raises(ArticleError, match="binary content, not text"):
        decode_bytes(data)
    item = read_one(write(tmp_path, "image.txt", data))
    assert item == InputFailure(
        id="image.txt", source=str(tmp_path / "image.txt"), error="binary content, not text"
    )


def test_undecodable_bytes():
    with pytest.raises(ArticleError, match="cannot decode text: unknown encoding"):
        decode_bytes(bytes(range(0x80, 0x100)) * 10)


def test_invalid_data_after_bom():
    with pytest.raises(ArticleError, match="after byte order mark"):
        decode_bytes(codecs.BOM_UTF8 + b"caf\xe9")


def test_empty_bytes():
    assert decode_bytes(b"") == ""


# --- plain text -------------------------------------------------------------------------------


def test_crlf_and_zero_width_cleaning(tmp_path):
    raw = "\ufeffFirst\u200b para\u00a0here.\r\nSecond\u2060 para.\r\n\r\n\r\n\r\nThird\u00ad.\r\n"
    article = read_one(write(tmp_path, "a.txt", raw))
    assert article.text == "First para here.\n\nSecond para.\n\nThird."
    assert article.title == ""


def test_title_from_first_line(tmp_path):
    raw = "Ad sales boost Time Warner profit\n\nQuarterly profits rose 76%.\nSales rose 2%.\n"
    article = read_one(write(tmp_path, "news.txt", raw))
    assert article.title == "Ad sales boost Time Warner profit"
    assert article.text == "Quarterly profits rose 76%.\n\nSales rose 2%."


@pytest.mark.parametrize(
    "raw",
    [
        "This first line is a sentence.\nAnd so is this one.",  # ends with punctuation
        "Only one paragraph without a headline",  # nothing follows
        "This line was wrapped by\nan editor at a fixed width.",  # continued below
        "x" * 250 + "\nBody text.",  # too long for a headline
    ],
)
def test_no_title(tmp_path, raw):
    article = read_one(write(tmp_path, "plain.txt", raw))
    assert article.title == ""
    assert "".join(article.text.split()) == "".join(raw.split())


def test_markdown_title_and_headings(tmp_path):
    raw = "# The Headline #\n\nIntro paragraph.\n\n## Section\n\nMore text.\n"
    article = read_one(write(tmp_path, "story.md", raw))
    assert article.title == "The Headline"
    assert article.text == "Intro paragraph.\n\nSection\n\nMore text."


def test_markdown_front_matter_title(tmp_path):
    raw = '---\ntitle: "Front Matter Title"\ndate: 2024-01-01\n---\nBody text here.\n'
    article = read_one(write(tmp_path, "fm.md", raw))
    assert (article.title, article.text) == ("Front Matter Title", "Body text here.")


@pytest.mark.parametrize("raw", ["", "   \n\t\n", "\ufeff\u200b\n"])
def test_empty_file(tmp_path, raw):
    item = read_one(write(tmp_path, "empty.txt", raw))
    assert isinstance(item, InputFailure)
    assert item.error == "empty article text"


def test_names_with_spaces_and_unicode(tmp_path):
    path = write(tmp_path / "in", "뉴스 폴더/my article é.txt", "Some text.")
    files, _, _ = find_files([tmp_path / "in"])
    assert [f.rel for f in files] == ["뉴스 폴더/my article é.txt"]
    [article] = read_list(files[0])
    assert article.id == "뉴스 폴더/my article é.txt"
    assert article.source == str(path)


# --- size and OS errors -----------------------------------------------------------------------


def test_oversize_file(tmp_path):
    path = write(tmp_path, "big.txt", "x" * 101)
    item = read_one(path, max_bytes=100)
    assert item == InputFailure(
        id="big.txt",
        source=str(path),
        error="file is 101 bytes, over the limit of 100 (raise --max-bytes)",
    )
    assert isinstance(read_one(path, max_bytes=101), Article)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anyway")
def test_permission_denied_file(tmp_path):
    path = write(tmp_path, "secret.txt", "text")
    path.chmod(0)
    try:
        assert read_one(path).error == "cannot read file: permission denied"
    finally:
        path.chmod(0o644)


def test_directory_named_like_a_file(tmp_path):
    path = tmp_path / "x.txt"
    path.mkdir()
    assert read_one(path).error == "cannot read file: is a directory"


def test_file_vanished(tmp_path):
    path = write(tmp_path, "gone.txt", "text")
    files, _, _ = find_files([tmp_path])
    path.unlink()
    [item] = read_list(files[0])
    assert item == InputFailure(
        id="gone.txt", source=str(path), error="cannot read file: no such file or directory"
    )


def test_broken_symlink(tmp_path):
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    write(tmp_path, "ok.txt", "text")
    files, skipped, fails = find_files([tmp_path])
    assert [f.rel for f in files] == ["ok.txt"]
    assert fails == [
        InputFailure(
            id="dangling.txt",
            source=str(tmp_path / "dangling.txt"),
            error="cannot read file: broken symbolic link",
        )
    ]


def test_unreadable_folder_is_reported_and_walk_continues(tmp_path, monkeypatch):
    write(tmp_path, "a/one.txt", "one")
    write(tmp_path, "b/two.txt", "two")
    write(tmp_path, "c/three.txt", "three")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "b":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(inputs_discover.os, "scandir", scandir)
    files, _, fails = find_files([tmp_path])
    assert [f.rel for f in files] == ["a/one.txt", "c/three.txt"]
    assert fails == [
        InputFailure(
            id="b", source=str(tmp_path / "b"), error="cannot read folder: permission denied"
        )
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    files, skipped, _ = find_files([tmp_path])
    assert files == []
    assert skipped == [Skipped(source=str(tmp_path / "pipe.txt"), reason="not a regular file")]


# --- finding files ----------------------------------------------------------------------------


def test_missing_input_raises_usage_error(tmp_path):
    write(tmp_path, "a.txt", "text")
    missing = tmp_path / "nope"
    with pytest.raises(UsageError, match=f"input not found: {missing}"):
        find_files([tmp_path, missing])


def test_walk_is_sorted_recursive_and_skips(tmp_path):
    write(tmp_path, "b.txt", "b")
    write(tmp_path, "a.md", "a")
    write(tmp_path, "sub/c.json", '{"text": "c"}')
    write(tmp_path, "sub/deeper/d.HTML", "<p>d</p>")
    write(tmp_path, "report.pdf", b"%PDF-1.4")
    write(tmp_path, "README", "no suffix")
    write(tmp_path, ".hidden.txt", "hidden")
    write(tmp_path, ".git/config.txt", "hidden folder")
    files, skipped, fails = find_files([tmp_path])
    assert [f.rel for f in files] == ["a.md", "b.txt", "sub/c.json", "sub/deeper/d.HTML"]
    assert all(f.path == tmp_path / f.rel for f in files)
    assert sorted(skipped, key=lambda s: s.source) == [
        Skipped(source=str(tmp_path / "README"), reason="unsupported file type"),
        Skipped(source=str(tmp_path / "report.pdf"), reason="unsupported file type '.pdf'"),
    ]
    assert fails == []
    assert {".txt", ".md", ".html", ".htm", ".json", ".jsonl"} == ARTICLE_SUFFIXES


def test_file_given_directly(tmp_path):
    path = write(tmp_path, "deep/dir/.hidden name.txt", "text")
    files, skipped, _ = find_files([path, write(tmp_path, "x.pdf", b"%PDF")])
    assert files == [SourceFile(path=path, rel=".hidden name.txt")]
    assert skipped == [
        Skipped(source=str(tmp_path / "x.pdf"), reason="unsupported file type '.pdf'")
    ]


def test_same_name_in_two_folders_gives_distinct_ids(tmp_path):
    write(tmp_path, "one/a.txt", "First text.")
    write(tmp_path, "two/a.txt", "Second text.")
    write(tmp_path, "one/a.md", "Markdown text.")
    items = read_all([tmp_path])
    assert [a.id for a in articles(items)] == ["one/a.md", "one/a.txt", "two/a.txt"]


def test_same_relative_path_under_two_inputs(tmp_path):
    write(tmp_path, "left/a.txt", "Left.")
    write(tmp_path, "right/a.txt", "Right.")
    files, _, _ = find_files([tmp_path / "left", tmp_path / "right"])
    assert [f.rel for f in files] == ["a.txt", "right/a.txt"]


def test_same_file_reached_twice_is_listed_once(tmp_path):
    path = write(tmp_path, "in/sub/a.txt", "text")
    (tmp_path / "in" / "alias.txt").symlink_to(path)
    files, _, _ = find_files([tmp_path / "in", tmp_path / "in" / "sub", path])
    assert [f.rel for f in files] == ["alias.txt"]


def test_symlink_loop_terminates(tmp_path):
    root = tmp_path / "root"
    write(root, "a.txt", "a")
    write(root, "sub/b.txt", "b")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(".", target_is_directory=True)
    outside = tmp_path / "outside"
    write(outside, "c.txt", "c")
    (root / "sub" / "linked").symlink_to(outside, target_is_directory=True)
    files, skipped, fails = find_files([root], follow_symlinks=True)
    assert [f.rel for f in files] == ["a.txt", "sub/b.txt", "sub/linked/c.txt"]
    assert fails == []
    files, skipped, fails = find_files([root])  # the link leaves the input: not followed
    assert [f.rel for f in files] == ["a.txt", "sub/b.txt"]
    assert [s.source for s in skipped] == [str(root / "sub" / "linked")]


def test_symlinks_out_of_the_input_tree_are_skipped_with_a_reason(tmp_path):
    root = tmp_path / "unpacked"
    write(root, "story.txt", "A real story.")
    (root / "passwd.txt").symlink_to("/etc/passwd")
    (root / "status.txt").symlink_to("/proc/self/status")
    write(tmp_path / "secret", "key.txt", "secret")
    (root / "keys").symlink_to(tmp_path / "secret", target_is_directory=True)
    (root / "inside.txt").symlink_to(root / "story.txt")  # stays inside: still read
    files, skipped, _ = find_files([root])
    assert [f.rel for f in files] == ["inside.txt"]  # the same file as story.txt, listed once
    assert {Path(s.source).name for s in skipped} == {"passwd.txt", "status.txt", "keys"}
    assert all("--follow-symlinks" in s.reason for s in skipped)
    files, _, _ = find_files([root], follow_symlinks=True)
    assert {f.rel for f in files} >= {"passwd.txt", "keys/key.txt"}


# --- JSON and JSON lines ----------------------------------------------------------------------


def test_json_single_object(tmp_path):
    path = write(tmp_path, "one.json", json.dumps({"text": "Body.", "title": " T ", "lang": "ko"}))
    assert read_one(path) == Article(
        id="one.json", source=str(path), text="Body.", title="T", lang="ko"
    )


@pytest.mark.parametrize(
    "lang", ["und", "UND", " und ", "und-Latn", "und_Hang", "auto", "Auto", "unknown", "mul",
             "zxx", "none", "null", "n/a", "-", "?", "", "   "]
)
@pytest.mark.parametrize("field", ["lang", "language"])
def test_a_lang_that_names_no_language_means_detect(tmp_path, lang, field):
    # "und" (BCP 47's undetermined) and its kin are not an error: the language is detected.
    record = {"text": "서울시는 오늘 요금 인상을 발표했다.", field: lang}
    path = write(tmp_path, "r.jsonl", json.dumps(record) + "\n" + json.dumps(record))
    items = read_list(SourceFile(path, "r.jsonl"))
    assert [item.lang for item in items] == [None, None]
    single = write(tmp_path, "one.json", json.dumps(record))
    assert read_one(single).lang is None


@pytest.mark.parametrize("lang", ["ko", "kor", "en-US", "zh_Hant", "xx", "understood"])
def test_a_lang_that_names_a_language_is_kept_for_the_run_to_check(tmp_path, lang):
    path = write(tmp_path, "one.json", json.dumps({"text": "Body.", "lang": lang}))
    assert read_one(path).lang == lang  # an unknown code is refused later, by the run


def test_record_lang_keeps_non_string_lang_undetected(tmp_path):
    records = [{"text": "A.", "lang": None}, {"text": "B.", "lang": 7}, {"text": "C.", "lang": []}]
    path = write(tmp_path, "many.json", json.dumps(records))
    assert [item.lang for item in read_list(SourceFile(path, "many.json"))] == [None] * 3


def test_json_list(tmp_path):
    records = [{"text": "First."}, {"article": "Second.", "id": 7}, {"body": ["P1.", "P2."]}]
    path = write(tmp_path, "many.json", json.dumps(records))
    items = read_list(SourceFile(path, "many.json"))
    assert items == [
        Article(id="many.json#1", source=f"{path}#1", text="First."),
        Article(id="7", source=f"{path}#2", text="Second."),
        Article(id="many.json#3", source=f"{path}#3", text="P1.\n\nP2."),
    ]


def test_jsonl_with_a_malformed_line(tmp_path):
    lines = [
        json.dumps({"id": " story-1 ", "text": "One.", "title": "Title"}),
        '{"text": "broken"',
        "",
        json.dumps({"content": "Three.", "id": ""}),
        json.dumps({"title": "no text"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"text": 42, "id": "n"}),
        json.dumps({"text": "   "}),
    ]
    path = write(tmp_path, "d/data.jsonl", "\n".join(lines) + "\n")
    items = read_list(SourceFile(path, "d/data.jsonl"))
    assert items[0] == Article(id="story-1", source=f"{path}#1", text="One.", title="Title")
    assert items[1].id == "d/data.jsonl#2"
    assert items[1].source == f"{path}#2"
    assert items[1].error.startswith("malformed JSON on line 2: ")
    assert items[2] == Article(id="d/data.jsonl#4", source=f"{path}#4", text="Three.")
    assert items[3] == InputFailure("d/data.jsonl#5", f"{path}#5", "record has no 'text' field")
    assert items[4] == InputFailure("d/data.jsonl#6", f"{path}#6", "record is not a JSON object")
    assert items[5] == InputFailure("n", f"{path}#7", "record field 'text' is not a string")
    assert items[6] == InputFailure("d/data.jsonl#8", f"{path}#8", "empty article text")
    assert len(items) == 7
    assert all("\n" not in i.error for i in failures(items))


def test_malformed_json_file_is_one_failure(tmp_path):
    path = write(tmp_path, "bad.json", '[{"text": "a"}, {"text": ')
    [item] = read_list(SourceFile(path, "bad.json"))
    assert item.id == "bad.json"
    assert item.error.startswith("malformed JSON: ")


def test_json_title_repeated_in_text_is_dropped(tmp_path):
    record = {"title": "Ad sales boost", "article": "Ad sales boost\n\nProfits rose."}
    article = read_one(write(tmp_path, "r.json", json.dumps(record)))
    assert (article.title, article.text) == ("Ad sales boost", "Profits rose.")


def test_empty_json_containers(tmp_path):
    assert read_one(write(tmp_path, "e.json", "[]")).error == "JSON file holds no records"
    assert read_one(write(tmp_path, "e.jsonl", "\n\n")).error == "JSONL file holds no records"



# --- HTML -------------------------------------------------------------------------------------

BODY = (
    "<p>The city council approved a new transport plan on Tuesday after a long debate "
    "that lasted well into the evening, officials said.</p>"
    "<p>The plan adds three bus lines and extends the tram network to the northern "
    "districts, which have lacked public transport for decades.</p>"
    "<p>Work is expected to begin next spring and to last about two years, according "
    "to the council's own estimates published with the decision.</p>"
)


def html_page(body: str, title: str = "Council approves transport plan", head: str = "") -> str:
    return (
        f"<html><head>{head}<title>{title}</title>"
        "<script>var tracking = 'SECRET_SCRIPT_TEXT';</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/sport'>Sport</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer>Copyright 2024 Example News. All rights reserved.</footer>"
        "<script>document.write('MORE_SCRIPT')</script></body></html>"
    )


def test_html_body_without_scripts_or_navigation(tmp_path):
    path = write(tmp_path, "page.html", html_page(BODY))
    article = read_one(path)
    assert isinstance(article, Article)
    assert article.title == "Council approves transport plan"
    assert article.text.startswith("The city council approved a new transport plan")
    assert "three bus lines" in article.text
    assert "next spring" in article.text
    for junk in ("SECRET_SCRIPT_TEXT", "MORE_SCRIPT", "<script", "Sport", "Copyright"):
        assert junk not in article.text


def test_html_without_article_text(tmp_path):
    page = "<html><head><script>var a = 1;</script></head><body><nav>Home</nav></body></html>"
    item = read_one(write(tmp_path, "empty.htm", page))
    assert isinstance(item, InputFailure)
    assert item.error == "no article text found in HTML page"


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("euc-kr", "<p>" + KOREAN * 2 + "</p><p>" + KOREAN + "</p>"),
        ("shift_jis", "<p>" + JAPANESE * 2 + "</p><p>" + JAPANESE + "</p>"),
    ],
)
def test_html_declared_charset(tmp_path, encoding, body):
    head = f'<meta http-equiv="Content-Type" content="text/html; charset={encoding}">'
    page = html_page(body, title="Title", head=head)
    article = read_one(write(tmp_path, "legacy.html", page.encode(encoding)))
    assert isinstance(article, Article)
    assert article.text.startswith(body[3:20])


def _real_pages(limit: int) -> list[tuple[Path, str]]:
    folder = DATA / "html_newspaper4k_fulltext"
    with open(folder / "manifest.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    pages = []
    for row in rows:
        expected = (folder / row["expected_text"]).read_text(encoding="utf-8", errors="replace")
        if len(expected) >= 500:  # short files are notes about the page, not its text
            pages.append((folder / row["html"], expected))
        if len(pages) == limit:
            break
    return pages


@pytest.mark.skipif(
    not (DATA / "html_newspaper4k_fulltext" / "manifest.tsv").is_file(),
    reason="shared news data not available",
)
def test_real_news_pages():
    recalls = []
    for path, expected in _real_pages(10):
        article = read_one(path)
        assert isinstance(article, Article), article
        assert "<script" not in article.text
        got = "".join(article.text.split())
        sentences = [
            "".join(s.split())
            for s in split_sentences(" ".join(clean_text(expected).split()), "en")
            if len(s) > 20
        ]
        recalls.append(sum(s in got for s in sentences) / len(sentences))
    assert len(recalls) == 10
    assert sum(recalls) / len(recalls) >= 0.8, recalls


def test_declared_encoding_comes_after_utf8_and_before_detection():
    data = KOREAN.encode("cp949")
    assert decode_bytes(data, declared="gb18030") == data.decode("gb18030")
    assert decode_bytes(data, declared="x-unknown-charset") == KOREAN
    assert decode_bytes("é".encode(), declared="latin-1") == "é"  # valid UTF-8 wins


@pytest.mark.parametrize("page", [b"", b"   ", b"<html></html>"])
def test_html_empty_page(tmp_path, page):
    item = read_one(write(tmp_path, "blank.html", page))
    assert isinstance(item, InputFailure)
    assert item.error == "no article text found in HTML page"
