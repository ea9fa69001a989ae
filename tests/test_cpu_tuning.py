"""CPU tuning: the oneDNN probe and its fallback, what is recorded, and the opt-out."""

from __future__ import annotations

import platform

import pytest
import torch

from summarize.backends import cpu_tuning


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))


def test_onednn_linear_matches_f_linear_when_the_probe_passes():
    model, reference = _model(), _model()
    n = cpu_tuning.use_onednn_linear(model)
    x = torch.randn(5, 3, 16)
    if platform.machine().lower() in ("x86_64", "amd64") and n:
        assert n == 2
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-5)
    else:  # another architecture or a torch without the op: nothing changed
        assert n == 0


def test_a_missing_or_wrong_kernel_leaves_the_model_alone(monkeypatch):
    def broken(*args, **kwargs):
        return torch.zeros(3, 5, 8)  # disagrees with F.linear on the probe

    class Ops:
        _linear_pointwise = staticmethod(broken)

    monkeypatch.setattr(torch.ops, "mkldnn", Ops(), raising=False)
    model = _model()
    before = [m.forward for m in model.modules()]
    assert cpu_tuning.use_onednn_linear(model) == 0
    assert [m.forward for m in model.modules()] == before

    class Missing:
        pass

    monkeypatch.setattr(torch.ops, "mkldnn", Missing(), raising=False)
    assert cpu_tuning.use_onednn_linear(_model()) == 0


def test_rows_are_padded_to_few_bucket_sizes():
    sizes = {cpu_tuning._rows_bucket(r) for r in range(1, 2049)}
    assert all(cpu_tuning._rows_bucket(r) >= r for r in range(1, 2049))
    assert all(cpu_tuning._rows_bucket(r) <= r * 1.125 + 1 for r in range(17, 2049))
    assert len(sizes) < 100  # a bounded number of oneDNN kernels, not one per shape


def test_opting_out_applies_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(cpu_tuning, "keep_freed_memory", lambda *a: calls.append("malloc"))
    monkeypatch.setattr(cpu_tuning, "use_onednn_linear", lambda m: calls.append("onednn") or 0)
    assert cpu_tuning.apply_cpu_tuning(_model(), enabled=False) == {"enabled": False}
    assert calls == []


def test_what_was_applied_is_recorded(monkeypatch):
    monkeypatch.setattr(cpu_tuning, "_ALLOCATOR_APPLIED", False)
    monkeypatch.setattr(cpu_tuning, "keep_freed_memory", lambda *a: True)
    monkeypatch.setattr(cpu_tuning, "use_onednn_linear", lambda m: 2)
    applied = cpu_tuning.apply_cpu_tuning(_model())
    assert applied["enabled"] is True and applied["onednn_linear_layers"] == 2
    assert applied["glibc_keep_freed"] is True


@pytest.mark.parametrize("tuning", [True, False])
def test_the_run_records_its_tuning_in_stats(tmp_path, tiny_marian, tuning):
    import json

    from summarize.run.pipeline import run_batch
    from summarize.settings import RoleConfig, RunConfig

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("The council approved the plan on Monday.", "utf-8")
    out = tmp_path / "out"
    run_batch(RunConfig(inputs=(str(src),), out_dir=str(out), summarize=False,
                        translate="article", targets=("ko",),
                        cpu_tuning=tuning, backend="torch",
                        models_dir=str(tmp_path / "m"),
                        translator=RoleConfig(model=str(tiny_marian),
                                              settings={"max_new_tokens": 3})))
    [model] = json.loads((out / "stats.json").read_text())["models"]
    assert model["tuning"]["enabled"] is tuning
