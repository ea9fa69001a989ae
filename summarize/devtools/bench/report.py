"""The benchmark's report as plain-text tables: the machine, then one table per stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def machine_line(machine: dict[str, Any]) -> str | None:
    """One line naming the CPU, its features and the library versions, or None."""
    if "cpu" not in machine:
        return None
    features = ",".join(machine.get("cpu_features") or []) or "none known"
    versions = ", ".join(f"{k} {machine[k]}" for k in ("torch", "transformers")
                         if machine.get(k))
    return (f"machine: {machine['cpu']} ({machine.get('cpu_count')} CPUs; features "
            f"{features}); torch threads {machine.get('threads')}; {versions}")


def _memory_table(name: str, st: dict[str, Any]) -> list[str]:
    models = f"{Path(st['summarizer']).name} + {Path(st['translator']).name}"
    if st["summarizer"] == st["translator"]:
        models = f"{Path(st['summarizer']).name} (both roles)"
    lines = [f"{name}  (summarize batch, models {models})",
             f"  {'articles':>8}  {'peak RSS MB':>11}  {'wall s':>8}  {'articles/s':>10}"]
    for run in st["runs"]:
        aps = run.get("articles_per_s")
        lines.append(f"  {run['articles']:>8}  {run['peak_rss_mb']:>11.1f}  "
                     f"{run['wall_s']:>8.1f}  {aps if aps is not None else '':>10}")
    verdict = "ok" if st["ok"] else "OVER"
    lines.append(f"  ratio {st['runs'][-1]['articles']}/{st['runs'][0]['articles']}: "
                 f"{st['ratio']:.3f} (limit {st['limit']}: {verdict})")
    return lines


def _speed_table(name: str, st: dict[str, Any], threads: Any) -> list[str]:
    unit = "sentences" if st["stage"] == "translate" else "articles"
    engine = st["engine"]
    lines = [f"{name}  ({st['items']} {unit}, {st['new_tokens']} new tokens each; "
             f"{Path(st['model']).name}; {engine.get('device', '?')}, {threads} threads)",
             f"  {'side':<12} {'dtype':<9} {'seconds':>9} {'out tokens':>10} "
             f"{'tok/s':>9} {f'{unit}/s':>12} {'x naive':>8} {'peak RSS MB':>11} "
             f"{'CPU s':>8} {'= naive':>8} {'load':>5}"]
    for side in ("naive", *[k for k in ("torch", "ct2", "ct2_float32") if k in st]):
        r = st[side]
        ratio = st["ratios"].get(side) if side != "naive" else 1.0
        same = st["identical_to_naive"].get(side) if side != "naive" else None
        same_s = f"{same['identical']}/{same['compared']}" if same else ""
        dtype_s = r.get("dtype") or ("float32" if side == "naive" else "")
        load = r.get("load_avg")
        load_s = f"{load:.1f}" if isinstance(load, (int, float)) else ""
        lines.append(f"  {side:<12} {dtype_s:<9} {r['seconds']:>9.2f} "
                     f"{r['output_tokens']:>10} {r['tokens_per_s'] or 0:>9.1f} "
                     f"{r['items_per_s'] or 0:>12.3f} {ratio or 0:>7.2f}x "
                     f"{r['peak_rss_mb']:>11.1f} {r['cpu_s']:>8.1f} {same_s:>8} {load_s:>5}")
    if st["naive"]["items"] < engine["items"]:
        work = f"naive loop on the first {st['naive']['items']} {unit} only"
    else:
        work = f"same work: {'yes' if st['same_work'] else 'NO'}"
    lines.append(f"  ratio engine/naive (tok/s): {st['ratio']}x;  {work};  identical "
                 f"outputs: {st['identical']}/{st['compared']}")
    if engine.get("batch_sizes"):
        sizes = engine["batch_sizes"]
        lines.append(f"  engine batches: {len(sizes)} (rows {min(sizes)}-{max(sizes)}), "
                     f"budget {engine.get('batch_tokens')} tokens")
    if "ct2_over_torch" in st:
        lines.append(f"  ratio ct2/torch engine (tok/s): {st['ct2_over_torch']}x")
    if "ct2_agreement" in st:
        ag = st["ct2_agreement"]
        lines.append(f"  ct2 {st['ct2'].get('dtype')} outputs identical to ct2 float32: "
                     f"{ag['identical']}/{ag['compared']} ({100 * (ag['share'] or 0):.1f}%)")
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The report as a few plain-text tables (rates are marginal: setup is not timed)."""
    machine = report.get("machine", {})
    head = machine_line(machine)
    lines = [head, ""] if head else []
    for name, st in report["stages"].items():
        if st.get("stage") == "memory" or name in ("memory", "chat-memory"):
            lines.extend(_memory_table(name, st))
        else:
            lines.extend(_speed_table(name, st, machine.get("threads")))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
