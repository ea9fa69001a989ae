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
from summarize.settings import RayConfig, RoleConfig, RunConfig, validate_config

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
    ('backend = "tensorrt"\n', "'backend' = 'tensorrt': expected one of: auto, torch, ct2"),
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
    ({"backend": "torch", "backend_options": {"quantization": "int8"}},
     ConfigError),  # ct2's, not torch's
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


# --- every setting has bounds; impossible requests fail up front (issue 24) -----------------

BOUNDS_CASES = [
    # not finite: NaN and infinity, in every number-valued place
    ("[summarizer]\nrepetition_penalty = nan\n", "repetition_penalty = nan: expected a finite"),
    ("[translator]\ntop_p = nan\n", "top_p = nan: expected a finite"),
    ("[summarizer]\ntemperature = inf\n", "temperature = inf: expected a finite"),
    ("[summarizer]\nlength_penalty = -inf\n", "length_penalty = -inf: expected a finite"),
    ("gpus_per_replica = nan\n", "'gpus_per_replica' = nan: expected a finite number"),
    ("gpus_per_replica = inf\n", "'gpus_per_replica' = inf: expected a finite number"),
    # far beyond any real use
    ("[summarizer]\nnum_beams = 100000\n", "num_beams = 100000: expected a value from 1 to 64"),
    ("[translator]\nmax_new_tokens = 10000000\n", "max_new_tokens = 10000000"),
    ("[summarizer]\nno_repeat_ngram_size = 1000\n", "no_repeat_ngram_size = 1000"),
    ("replicas = 100000\n", "'replicas' = 100000: expected an integer from 0 to 256"),
    ("read_workers = 5000\n", "'read_workers' = 5000"),
    ("group_size = 10000000\n", "'group_size' = 10000000"),
    ('backend = "ct2"\nthreads = 20000\n', "'threads' = 20000"),
    ("max_loaded_models = 1000\n", "'max_loaded_models' = 1000"),
    # what the installed engine cannot honour
    ("[summarizer]\nnum_beams = 4\nnum_beam_groups = 2\n", "num_beam_groups (diverse beam"),
    ("[translator]\ndiversity_penalty = 0.5\n", "diversity_penalty (diverse beam"),
    ('backend = "vllm"\n[summarizer]\nnum_beams = 4\n', "num_beams > 1 is not supported by"),
    ('backend = "vllm"\n[translator]\nno_repeat_ngram_size = 3\n',
     "'no_repeat_ngram_size' is not supported by --backend vllm"),
    ('backend = "vllm"\nbatch_tokens = 4096\n', "'batch_tokens' does not apply to --backend vllm"),
    # an option of another backend would be silently ignored
    ('backend = "torch"\nquantization = "int8"\n',
     "'quantization' is an option of --backend ct2"),
    ("gpu_memory_utilization = 0.5\n", "'gpu_memory_utilization' is an option of --backend "
     "vllm"),
    # prompts
    ('[summarizer]\nprompt = "Summarize."\n', "prompt must contain {text}"),
    ('[translator]\nprompt = "{text} into {language}"\n', "names the field {language}"),
    ('[translator]\nsystem = "{text"\n', "not a valid template"),
    ('[summarizer]\nchat_template = "/nonexistent.jinja"\n',
     "cannot read chat_template /nonexistent.jinja"),
    ("[summarizer]\nsentences = 0\n", "sentences = 0: expected a value from 1 to 100"),
]


@pytest.mark.parametrize(("toml", "message"), BOUNDS_CASES)
def test_out_of_bounds_and_impossible_settings_are_one_line_before_any_model(
        monkeypatch, tmp_path, src, toml, message):
    monkeypatch.setattr(pipeline, "load_models", no_model)
    config = tmp_path / "c.toml"
    config.write_text(toml, "utf-8")
    result = runner.invoke(app, ["batch", str(src), "--out", str(tmp_path / "out"),
                                 "--config", str(config), "-q"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("summarize: error: "), lines
    assert message in lines[0]


@pytest.mark.parametrize(("change", "message"), [
    ({"summarizer": RoleConfig(settings={"top_p": float("nan")})}, "top_p = nan"),
    ({"ray": RayConfig(gpus_per_replica=float("inf"))}, "gpus_per_replica"),
    ({"batch_tokens": float("nan")}, "batch_tokens"),
    ({"backend": "ct2", "backend_options": {"threads": 10**6}}, "threads"),
    ({"summarizer": RoleConfig(settings={"num_beams": 10**5})}, "num_beams"),
])
def test_the_python_api_refuses_the_same_numbers(tmp_path, src, change, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(RunConfig(inputs=(str(src),), out_dir=str(tmp_path / "out"), **change))


# --- a model per target or per pair on the command line (issue 25) ---------------------------


def test_translator_per_target_and_pair_from_flags_and_file(tmp_path, src):
    from summarize.run.models import translator_for
    from summarize.settings import build_config

    file = {"translator": {"model": "file-every", "models": {"ja": "file-ja"}}}
    config = validate_config(build_config([src], file, {
        "translator": ["flag-every", "ko=flag-ko", "ja-en=flag-ja-en"], "to": ["ko,ja,en"]}))
    role = config.translator_role
    assert role.model == "flag-every"
    assert role.models == {"ja": "file-ja", "ko": "flag-ko", "ja-en": "flag-ja-en"}
    assert translator_for(config, "ko", "en") == "flag-ko"
    assert translator_for(config, "en", "ja") == "flag-ja-en"
    assert translator_for(config, "ja", "en") == "file-ja"
    assert translator_for(config, "de", "en") == "flag-every"


@pytest.mark.parametrize(("flags", "message"), [
    (["--translator", "a", "--translator", "b"], "--translator given twice for every pair"),
    (["--translator", "ko=a", "--translator", "ko=b"], "--translator ko= given twice"),
    (["--translator", "kor=a", "--translator", "ko=b"], "given twice"),
    (["--translator", "xx-yy=a"], "unknown language code"),
    (["--translator", "ko="], "no model after '='"),
])
def test_a_repeated_or_bad_translator_flag_is_refused_not_dropped(monkeypatch, tmp_path, src,
                                                                  flags, message):
    monkeypatch.setattr(pipeline, "load_models", no_model)
    result = runner.invoke(app, ["batch", str(src), "--out", str(tmp_path / "out"), "-q",
                                 *flags])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_readme_options_table_is_the_settings_table():
    """The README's options table is generated from the settings (``python -m
    summarize.settings --markdown`` prints it); it must not drift from them."""
    from summarize.settings import markdown_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    assert markdown_table() in readme
