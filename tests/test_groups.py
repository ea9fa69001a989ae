"""The stage pipeline's shared parts: the groups both engines consume, the ``--dedupe`` book,
and the filter that keeps Ray's own lines off the console."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from summarize.inputs import find_files
from summarize.records import Article, InputFailure
from summarize.run.dedupe import DedupeBook
from summarize.run.groups import Admission, form_groups, group_limit
from summarize.run.process import failure_record, ok_record
from summarize.run.stats import StatsCollector
from summarize.run.work import Pending
from summarize.settings import RunConfig, validate_config


def write_inputs(root: Path, n: int, same: dict[int, int] | None = None) -> Path:
    """``n`` one-line articles; ``same`` makes article i a copy of article j."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        j = (same or {}).get(i, i)
        (root / f"a{i:03d}.txt").write_text(
            f"Story {j}\n\nOfficials said talks number {j} would go on next week.\n",
            encoding="utf-8")
    return root


def groups_of(root: Path, group_size: int = 64, **kw):
    config = validate_config(RunConfig(inputs=(str(root),), group_size=group_size,
                                       source_lang="en"))
    files, _, _ = find_files([root])
    return list(form_groups(files, config, Admission(config), StatsCollector(), **kw))


def test_groups_grow_from_eight_to_the_group_size_in_input_order(tmp_path):
    assert [group_limit(i, 64) for i in range(5)] == [8, 16, 32, 64, 64]
    assert [group_limit(i, 5) for i in range(3)] == [5, 5, 5]
    groups = groups_of(write_inputs(tmp_path / "in", 100))
    assert [g.size for g in groups] == [8, 16, 32, 44]
    ids = [p.article.id for g in groups for p in g.pending]
    assert ids == [f"a{i:03d}.txt" for i in range(100)]
    assert sum(g.files_read for g in groups) == 100
    assert all(p.article.lang == "en" and p.routes["lang"] == "forced"
               for g in groups for p in g.pending)


def test_scan_failures_open_the_first_group_and_count_toward_its_size(tmp_path):
    failures = [InputFailure(f"bad{i}", f"bad{i}", "cannot read") for i in range(3)]
    groups = groups_of(write_inputs(tmp_path / "in", 10), failures=failures)
    assert [(len(g.pending), len(g.failed)) for g in groups] == [(5, 3), (5, 0)]


def test_a_stop_ends_the_groups_without_the_one_being_formed(tmp_path):
    seen = []

    def stop() -> bool:
        seen.append(1)
        return len(seen) >= 12  # after the 12th article: the first group (8) is out

    groups = groups_of(write_inputs(tmp_path / "in", 40), stop=stop)
    assert [g.size for g in groups] == [8]


def test_dedupe_routes_leaders_followers_and_copies_of_finished_texts(tmp_path):
    # 1, 5 and 20 are copies of 0: 1 and 5 in the leader's group, 20 in a later one
    book = DedupeBook()
    groups = groups_of(write_inputs(tmp_path / "in", 24, same={1: 0, 5: 0, 20: 0}),
                       dedupe=book)
    first, second = groups[0], groups[1]
    assert [p.article.id for p in first.pending] == [
        f"a{i:03d}.txt" for i in range(8) if i not in (1, 5)]
    assert first.n_articles == 8 and first.copies == []  # 1 and 5 wait for a000
    assert "a020.txt" not in [p.article.id for p in second.pending]  # it waits too
    leader = first.pending[0]
    record = ok_record(leader, summary="S", chunks=1, translations={}, alignment={},
                       timings={})
    copies = book.finished([record])
    assert [c.id for c in copies] == ["a001.txt", "a005.txt", "a020.txt"]
    assert all(c.duplicate_of == "a000.txt" and c.summary == "S" and c.ok for c in copies)
    assert book.finished([record]) == []  # handed back once
    again = Pending(Article(id="late", source="late.txt", text=leader.article.text,
                            title=leader.article.title, lang="en"), key="k", read_s=0.5)
    copy = book.route(again)  # the text is done: a copy at once
    assert copy.id == "late" and copy.duplicate_of == "a000.txt"
    assert copy.timings["read"] == 0.5


def test_dedupe_copies_of_a_failed_leader_fail_and_a_later_copy_leads_again():
    book = DedupeBook()

    def pending(i: int) -> Pending:
        return Pending(Article(id=f"x{i}", source=f"x{i}", text="same text", title=""),
                       key="k", read_s=0.0)

    leader, follower = pending(0), pending(1)
    assert book.route(leader) is leader and book.route(follower) is None
    failed = failure_record(InputFailure("x0", "x0", "model exploded"))
    [copy] = book.finished([failed])
    assert copy.id == "x1" and not copy.ok and copy.error == "model exploded"
    later = pending(2)
    assert book.route(later) is later  # nothing succeeded for this text: it leads


CONSOLE_SCRIPT = textwrap.dedent(r"""
    import os, sys, time
    from summarize.run.ray_console import RayConsoleFilter
    with RayConsoleFilter() as f:
        os.write(2, b"[2026-12-05 20:36:03,318 E 4969 4969] core_worker.cc:2465: noise\n")
        os.write(2, b"summarize: kept line\n")
        os.write(2, b"[2026-12-05 20:36:03,3")  # a native line written in two parts
        time.sleep(0.05)
        os.write(2, b"18 W 1 2] x.cc:1: more noise\n")
        os.write(2, b"[2026-12-05 20:36:03,318 F 4969 4969] x.cc:9: fatal, kept\n")
        os.write(2, b"[not a log line] kept\n")
        os.write(2, b"partial without newline")
        time.sleep(0.5)
        os.write(2, b" ... ended\n")
        print("\x1b[33m(raylet)\x1b[0m Task failed. retried", flush=True)
        print("(MapWorker(MapBatches(SummarizeReplica)) pid=77) noise", flush=True)
        print("stdout kept", flush=True)
        sys.stderr.write("\r\x1b[2Kbar 50%")  # a progress bar: no newline
        sys.stderr.flush()
        time.sleep(0.05)
        os.write(2, b"[2026-12-05 20:36:03,318 I 1 1] noise after the bar\n")
        os.write(2, b"\r\x1b[1A\x1b[2K(raylet) noise printed above the bars\n")
        os.write(2, b"\r\x1b[2Kbar 60%\n")
    sys.stderr.write("\nafter: %d dropped\n" % f.dropped)
""")


def test_rays_own_lines_are_kept_off_the_console_and_the_tools_pass():
    done = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT], capture_output=True,
                          timeout=60)
    err, out = done.stderr.decode(), done.stdout.decode()
    assert done.returncode == 0, err
    assert "noise" not in err and "noise" not in out and "(raylet)" not in out
    assert "summarize: kept line\n" in err
    assert "fatal, kept" in err and "[not a log line] kept" in err
    assert "partial without newline ... ended\n" in err
    assert "\r\x1b[2Kbar 50%\r\x1b[1A\x1b[2K\r\x1b[2Kbar 60%\n" in err
    assert out == "stdout kept\n"
    assert "after: 6 dropped" in err


TERMINAL_SCRIPT = textwrap.dedent(r"""
    import os
    from summarize.run.ray_console import RayConsoleFilter
    with RayConsoleFilter(fds=(2,)):
        os.write(2, b"[2026-12-05 20:36:03,318 E 1 1] core_worker.cc:1: noise\n")
        os.write(2, ("inside: tty=%s cols=%d\n" % (os.isatty(2),
                     os.get_terminal_size(2).columns)).encode())
    os.write(2, ("after: tty=%s\n" % os.isatty(2)).encode())
""")


def test_on_a_terminal_the_filter_is_a_terminal_of_the_same_width():
    """Progress bars decide whether to draw from ``isatty``: while Ray's lines are filtered
    the run's stderr is still a terminal, as wide as the real one, its bytes unchanged."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 123, 0, 0))
    proc = subprocess.Popen([sys.executable, "-c", TERMINAL_SCRIPT], stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child's end closed
            break
        if not chunk:
            break
        got += chunk
    assert proc.wait(timeout=60) == 0, got
    text = got.decode().replace("\r\n", "\n")
    assert "noise" not in text
    assert "inside: tty=True cols=123\n" in text and "after: tty=True\n" in text
