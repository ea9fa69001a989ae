"""Test hooks a run is given (never read from the environment): faults to inject into the
Ray replicas, so the tests can kill a replica the way a crash or the OOM killer would.

Pass them as ``run_batch(config, hooks=Hooks(faults=FaultPlan(...)))``; a run without
hooks has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FaultPlan:
    """Faults injected into the Ray replicas.

    Attributes:
        crash_once: A path prefix. In each stage, the first call that finds no
            ``<crash_once>.<stage>`` file creates it and kills its replica (``os._exit``),
            once per run; Ray must restart the replica and retry the group.
        poison: An article id, or ``id@stage``: every replica (of that stage) that
            processes this article dies, every time.
    """

    crash_once: str | None = None
    poison: str | None = None


@dataclass(frozen=True)
class Hooks:
    """Everything a test injects into a run.

    Attributes:
        faults: Faults for the Ray replicas.
    """

    faults: FaultPlan = field(default_factory=FaultPlan)


__all__ = ["FaultPlan", "Hooks"]
