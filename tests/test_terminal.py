"""Untrusted names on the terminal: the CLI's lines and --debug logging are escaped alike."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.outputs.terminal import PrintableFormatter, printable

REPO = Path(__file__).resolve().parents[1]
#: Names that would drive a terminal: retitle, clear, reverse the line, break it, ring.
HOSTILE = ["evil\x1b]0;pwned\x07", "clear\x1b[2J\x1b[H", "rtl\u202eexe.txt",
           "iso\u2066x\u2069", "nl\nfake line", "cr\rover", "nel\x85x", "lone\ud800"]


@pytest.mark.parametrize("name", HOSTILE)
def test_printable_shows_every_control_as_an_escape(name):
    shown = printable(name)
    assert shown.isprintable() and "\\" in shown
    assert shown.encode("utf-8")  # a lone surrogate is shown, not fatal


def test_cli_printable_is_the_terminal_one():
    from summarize import cli

    assert cli.printable is printable


def test_formatter_escapes_message_arguments_and_tracebacks():
    formatter = PrintableFormatter("summarize: %(levelname)s: %(message)s")
    try:
        raise ValueError("bad name " + HOSTILE[0])
    except ValueError:
        record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "%s: %s", (HOSTILE[1], "x"),
                                   sys.exc_info())
    text = formatter.format(record)
    assert "\x1b" not in text and "\x07" not in text
    first, *traceback = text.split("\n")
    assert first == "summarize: DEBUG: clear\\x1b[2J\\x1b[H: x"
    assert traceback[0] == "Traceback (most recent call last):"  # its lines stay lines
    assert traceback[-1] == "ValueError: bad name evil\\x1b]0;pwned\\x07"


def test_debug_logging_of_hostile_file_names_is_escaped(tmp_path):
    """--debug logs a refused input and the lock by name: through the escaping formatter."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "evil\x1b]0;pwned\x07.txt").write_text("Some text that is long enough here.\n")
    (src / "rtl\u202etxt.exe.txt").write_text("Some more text that is long enough.\n")
    out = tmp_path / "out\x1b[2J"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "summarize.cli", "batch", str(src), "--out", str(out),
         "--debug", "--read-workers", "0", "--max-bytes", "5", "-q"],
        capture_output=True, env=env, timeout=300)
    stderr = done.stderr.decode("utf-8")
    assert done.returncode == 2, stderr
    debug = [line for line in stderr.splitlines() if line.startswith("summarize: DEBUG:")]
    assert any("evil\\x1b]0;pwned\\x07.txt" in line for line in debug), stderr
    assert any("rtl\\u202etxt.exe.txt" in line for line in debug), stderr
    assert any("out\\x1b[2J" in line for line in debug), stderr
    assert "\x1b" not in stderr and "\x07" not in stderr and "\u202e" not in stderr
