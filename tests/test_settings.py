"""Every setting is validated before any model loads: from a flag, the TOML file or the
Python API, a bad value is exit 2 with one line naming the setting, the value and what is
allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.errors import ConfigError, UsageError
from summarize.run import pipeline
from summarize.run.pipeline import run_batch
from summarize.settings import RoleConfig, RunConfig

runner = CliRunner()


@pytest.fixture()
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("The council approved the plan on Monday.", "utf-8")
    return folder


def no_model(config):
    raise AssertionError("a model was loaded despite a bad setting")


TOML_CASES = [
    ('[summarizer]\nmax_new_tokens = "ten"\n', "max_new_tokens = 'ten': expected an integer"),
    ('group_size = "x"\n', "'group_size' = 'x': expected an integer from 1 to 100000"),
    ("to = 5\n", "'to' = 5: expected a language code or a list of them"),
    ('device = ["cpu"]\n', "'device' = ['cpu']: expected one of: auto, cpu, cuda"),
    ("[summarizer]\nnum_beams = 0\n", "num_beams = 0: expected a value from 1 to 64"),
    ("[summarizer]\nmax_new_tokens = -5\n",
     "max_new_tokens = -5: expected a value from 1 to 65536"),
    ('summary = "no"\n', "'summary' = 'no': expected true or false"),
    ("[translator]\ntop_p = 1.5\n", "top_p = 1.5: expected a value from 1e-06 to 1"),
    ("[summarizer]\nmin_new_tokens = 9\nmax_new_tokens = 4\n", "min_new_tokens = 9 is above"),
    ("batch_tokens = 8\n", "'batch_tokens' = 8: expected an integer from 16 to 10000000"),
    ('translate = "everything"\n', "'translate' = 'everything': expected one of"),
    ('backend = "tensorrt"\n', "'backend' = 'tensorrt': expected one of: torch, ct2"),
    ("[translator]\nprefix = 3\n", "prefix = 3: expected a string"),
    ('[summarizer]\ncache_implementation = "paged"\n',
     "cache_implementation = 'paged': expected one of: dynamic, static"),
    ('backend = "ct2"\n[translator]\ncache_implementation = "static"\n',
     "[translator] cache_implementation = 'static' is not supported by --backend ct2"),
    ('backend = "ct2"\n[summarizer]\nnum_beams = 4\nnum_beam_groups = 2\n',
     "[summarizer] generation setting 'num_beam_groups' (diverse beam search) is not "
     "supported by --backend ct2"),
    ('overlap = "max"\n', "'overlap' = 'max': expected one of: auto, full, io, off"),
    ("read_workers = -2\n", "'read_workers' = -2: expected an integer from 0 to 256"),
]


@pytest.mark.parametrize(("toml", "message"), TOML_CASES)
def test_bad_config_file_values_are_one_line_before_any_model(monkeypatch, tmp_path, src,
                                                              toml, message):
    monkeypatch.setattr(pipeline, "load_models", no_model)
    config = tmp_path / "c.toml"
    config.write_text(toml, "utf-8")
    result = runner.invoke(app, ["batch", str(src), "--out", str(tmp_path / "out"),
                                 "--config", str(config), "-q"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("summarize: error: "), lines
    assert message in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("flags", "message"), [
    (["--group-size", "0"], "'group_size' = 0: expected an integer from 1 to 100000"),
    (["--max-bytes", "0"], "'max_bytes' = 0: expected an integer from 1 to 1099511627776"),
    (["--to", "xx"], "xx"),
    (["--pivot", "sometimes"], "'pivot' = 'sometimes'"),
    (["--replicas", "-1"], "'replicas' = -1"),
    (["--overlap", "threads"], "'overlap' = 'threads'"),
    (["--read-workers", "-1"], "'read_workers' = -1"),
])
def test_bad_flags_are_one_line_before_any_model(monkeypatch, tmp_path, src, flags, message):
    monkeypatch.setattr(pipeline, "load_models", no_model)
    result = runner.invoke(app, ["batch", str(src), "--out", str(tmp_path / "out"), *flags])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(("change", "error"), [
    ({"group_size": "x"}, ConfigError), ({"group_size": 0}, ConfigError),
    ({"summarize": "no"}, ConfigError), ({"targets": 5}, ConfigError),
    ({"summarizer": RoleConfig(settings={"num_beams": 0})}, ConfigError),
    ({"summarizer": RoleConfig(settings={"beams": 2})}, ConfigError),
    ({"source_lang": "klingon"}, UsageError),
    ({"backend": "ct2", "backend_options": {"threads": -1}}, ConfigError),
    ({"backend_options": {"quantization": "int8"}}, ConfigError),  # ct2's, not torch's
    ({"overlap": True}, ConfigError), ({"read_workers": "2"}, ConfigError),
])
def test_the_python_api_goes_through_the_same_checks(tmp_path, src, change, error):
    config = RunConfig(inputs=(str(src),), out_dir=str(tmp_path / "out"), **change)
    with pytest.raises(error):
        run_batch(config, loader=no_model)
    assert not (tmp_path / "out").exists()


def test_max_input_tokens_above_the_models_positions_is_exit_2(tmp_path, src, tiny_bart,
                                                              tiny_marian):
    config = tmp_path / "c.toml"
    config.write_text("[summarizer]\nmax_input_tokens = 100000\n", "utf-8")
    result = runner.invoke(app, ["batch", str(src), "--out", str(tmp_path / "out"),
                                 "--summarizer", str(tiny_bart), "--translator",
                                 str(tiny_marian), "--config", str(config), "-q"])
    assert result.exit_code == 2, result.output
    assert "max_input_tokens = 100000" in result.stderr and "reads at most" in result.stderr


def test_translator_max_input_tokens_and_prefix_are_used(tmp_path, src, tiny_marian):
    from summarize.run.models import load_models
    from summarize.settings import validate_config

    config = validate_config(RunConfig(
        inputs=(str(src),), out_dir=str(tmp_path / "out"), summarize=False,
        translate="article", targets=("ko",),
        models_dir=str(tmp_path / "m"),
        translator=RoleConfig(model=str(tiny_marian), settings={
            "max_input_tokens": 24, "prefix": "NEWS: ", "max_new_tokens": 3})))
    models = load_models(config)
    task = models.translators["ko"]
    assert task.backend.input_limit("translate", 3) == 24
    seen: list[str] = []
    counts: list[int] = []
    real = task.backend.generate

    def spy(requests, *args, **kwargs):
        seen.extend(task.backend._asked(r)[0] for r in requests)
        counts.extend(task.backend.count_tokens(requests))
        return real(requests, *args, **kwargs)

    task.backend.generate = spy
    from summarize.tasks.batching import BatchStats

    long = "The council approved a new transport plan after a long debate on Tuesday."
    [result] = task.translate_many([long], BatchStats())
    assert seen and all(text.startswith("NEWS: ") for text in seen)
    # the sentence was split to fit 24 tokens, prefix included, not truncated
    assert len(seen) > 1
    assert counts and all(n <= 24 for n in counts)
    assert result.error is None
