"""The tool's side files (config, glossary, references): one reader, one set of rules, one
line per failure, never a hang or an unbounded read."""

from __future__ import annotations

import codecs
import os
import socket
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.errors import UsageError
from summarize.inputs.sidefiles import read_side_file, side_file_lines
from summarize.settings import load_config_file


def _hostile(kind: str, tmp_path: Path) -> Path:
    """A path of one hostile kind: what a side file must never be read as."""
    if kind in ("/dev/zero", "/dev/urandom", "/dev/null"):
        return Path(kind)
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)  # nobody writes: opening it for reading would wait for ever
        return path
    if kind == "folder":
        path = tmp_path / "folder.tsv"
        path.mkdir()
        return path
    if kind == "socket":
        path = tmp_path / "sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        return path
    if kind == "link-to-zero":
        path = tmp_path / "zero.tsv"
        path.symlink_to("/dev/zero")
        return path
    if kind == "60MB":
        path = tmp_path / "big.tsv"
        with path.open("wb") as handle:
            handle.truncate(60_000_000)  # sparse: costs no disk
        return path
    if kind == "invalid-utf8":
        path = tmp_path / "latin1.tsv"
        path.write_bytes("Brexit\tok\nZürich\tZurich\n".encode("latin-1"))
        return path
    if kind == "utf16":
        path = tmp_path / "utf16.tsv"
        path.write_bytes(codecs.BOM_UTF16_LE + "Brexit\tx\n".encode("utf-16-le"))
        return path
    if kind == "missing":
        return tmp_path / "missing.tsv"
    raise AssertionError(kind)


KINDS = ["/dev/zero", "/dev/urandom", "/dev/null", "fifo", "folder", "socket", "link-to-zero",
         "60MB", "invalid-utf8", "utf16", "missing"]
WHY = {"/dev/zero": "character device", "/dev/urandom": "character device",
       "/dev/null": "character device", "fifo": "named pipe", "folder": "is a folder",
       "socket": "socket", "link-to-zero": "character device", "60MB": "60.0 MB",
       "invalid-utf8": "latin1.tsv:2: not UTF-8", "utf16": "UTF-16",
       "missing": "cannot read glossary"}


def _read_in_thread(path: Path, max_bytes: int = 50_000_000) -> BaseException | str:
    """read_side_file in a daemon thread: a hang fails the test instead of stopping it."""
    outcome: list[BaseException | str] = []

    def run() -> None:
        try:
            outcome.append(read_side_file(path, what="glossary", max_bytes=max_bytes))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), f"reading {path} did not end"
    return outcome[0]


@pytest.mark.parametrize("kind", KINDS)
def test_every_hostile_side_file_is_one_line_naming_it(kind, tmp_path):
    path = _hostile(kind, tmp_path)
    outcome = _read_in_thread(path)
    assert isinstance(outcome, UsageError), outcome
    message = str(outcome)
    assert "\n" not in message and str(path) in message and WHY[kind] in message, message


def test_a_file_that_says_it_is_empty_is_still_read_only_to_the_cap():
    """/proc files have st_size 0 and content: the read itself is bounded."""
    status = Path("/proc/self/status")
    if not status.is_file():
        pytest.skip("no /proc")
    outcome = _read_in_thread(status, max_bytes=100)
    assert isinstance(outcome, UsageError) and "more than the 100 bytes" in str(outcome)
    assert "Name:" in read_side_file(status, what="x", max_bytes=1_000_000)


def test_utf8_with_and_without_bom_and_only_newline_ends_a_line(tmp_path):
    text = "a\u2028b\tc\u0085d\r\ne\x0cf\rg\n\nlast"
    for data in (text.encode(), codecs.BOM_UTF8 + text.encode()):
        path = tmp_path / "f.txt"
        path.write_bytes(data)
        read = read_side_file(path, what="x", max_bytes=100)
        assert read == text
        assert list(side_file_lines(read)) == [
            (1, "a\u2028b\tc\u0085d"), (2, "e\x0cf\rg"), (3, ""), (4, "last")]
    assert list(side_file_lines("one\n")) == [(1, "one")]


def _batch(tmp_path: Path, *args: str):
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    (src / "a.txt").write_text("Police arrested two men after a robbery in the city centre.")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(src), "--out", str(out), *args,
                                      "--models-dir", str(tmp_path / "none")])
    return result, out


@pytest.mark.parametrize("option", ["--glossary", "--config"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "folder"])
def test_glossary_and_config_refuse_hostile_files_in_one_line(option, kind, tmp_path):
    path = _hostile(kind, tmp_path)
    if option == "--config" and kind == "missing":
        pytest.skip("click refuses a missing --config itself (exists=True)")
    result, out = _batch(tmp_path, option, str(path))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("summarize: error: "), result.stderr
    assert str(path) in lines[0] and "Traceback" not in result.output
    assert not out.exists()  # refused before the output folder is touched


def test_a_folder_as_glossary_or_config_is_refused(tmp_path):
    folder = _hostile("folder", tmp_path)
    result, _ = _batch(tmp_path, "--glossary", str(folder))
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        f"summarize: error: glossary {folder} is a folder, not a file"]
    with pytest.raises(UsageError, match="is a folder, not a file"):
        load_config_file(folder)  # the CLI's own --config check (click) refuses it first


def test_config_file_with_a_bom_is_read(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(codecs.BOM_UTF8 + b'to = "ko"\n')
    assert load_config_file(path) == {"to": "ko"}
