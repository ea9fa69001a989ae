"""How ``--engine ray`` places its work: the model stages a run needs, how many replicas each
runs and what each reserves, and whether the machine or cluster can hold that plan.

Nothing here imports Ray: the plan is arithmetic over :func:`ray.cluster_resources`, so it
is tested without a cluster, and a plan that cannot be met is refused in words (what was
asked, what exists) before any replica starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from summarize.settings import RunConfig

#: The model stages, in pipeline order.
STAGES = ("summarize", "translate")
#: Calls queued per replica (one runs, one waits: the next group is there when it ends).
IN_FLIGHT_PER_REPLICA = 2
#: What one replica holds besides its models' weights: the interpreter, torch, the
#: tokenizers and Ray's worker (about 0.55 GB a replica was measured with tiny models).
REPLICA_BASE_BYTES = 512 * 2**20
#: Files that hold a model's weights (their size on disk estimates its memory).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
#: Seconds a cluster may take to offer what the replicas ask (an autoscaler adding nodes)
#: before the run stops with an error; a Ray instance the tool started cannot grow.
PLACEMENT_WAIT_S = 120.0


@dataclass(frozen=True)
class ReplicaPlan:
    """How many replicas a stage runs and what each one reserves."""

    replicas: int
    num_gpus: float
    num_cpus: float
    threads: int


def model_stages(config: RunConfig) -> tuple[str, ...]:
    """The stages a run needs: ``summarize`` unless ``--no-summary``, ``translate`` unless
    ``--translate none`` (at least one: it builds the records)."""
    stages = tuple(s for s, on in zip(STAGES, (config.summarize, config.translate != "none"),
                                      strict=True) if on)
    return stages or ("translate",)


def plan_replicas(config: RunConfig, resources: dict[str, float], n_groups: int | None = None,
                  n_stages: int = 1, replica_bytes: float = 0.0) -> ReplicaPlan:
    """Size each stage's actor pool from the cluster's resources.

    Args:
        config: ``replicas`` per stage (0: one per GPU, or the CPUs split between the
            stages' replicas) and ``gpus_per_replica`` (None: where GPUs exist, each GPU
            holds one replica of every stage, ``1 / n_stages`` each; else 0).
        resources: :func:`ray.cluster_resources` (``CPU``, ``GPU``, ``memory`` in bytes).
        n_groups: Groups to process when known (there is no point in more replicas).
        n_stages: Model stages sharing the resources.
        replica_bytes: Estimated memory of one replica (:func:`replica_bytes`); with the
            replicas left to the plan (``replicas`` 0), no more than memory holds.

    Returns:
        The plan of one stage (every stage gets the same); CPU replicas share the CPUs
        evenly (fractions where there are fewer CPUs than replicas) and use that many
        threads each (at least one).
    """
    total_gpus = float(resources.get("GPU", 0.0))
    total_cpus = max(1.0, float(resources.get("CPU", 1.0)))
    n_stages = max(1, n_stages)
    gpus = config.ray.gpus_per_replica
    if gpus is None:
        gpus = 1.0 / n_stages if total_gpus >= 1 else 0.0
    if gpus > 0:
        replicas = config.ray.replicas or max(1, int(total_gpus / (gpus * n_stages) + 1e-9))
    else:
        replicas = config.ray.replicas or max(1, int(total_cpus // n_stages))
    memory = float(resources.get("memory", 0.0))
    if not config.ray.replicas and memory and replica_bytes:
        replicas = min(replicas, max(1, int(memory // (replica_bytes * n_stages))))
    if n_groups:
        replicas = max(1, min(replicas, n_groups))
    cpus = total_cpus / (replicas * n_stages)
    cpus = min(1.0, cpus) if gpus > 0 else (float(int(cpus)) if cpus >= 1 else round(cpus, 4))
    threads = config.backend_options.get("threads") or max(1, int(cpus))
    return ReplicaPlan(replicas=replicas, num_gpus=float(gpus), num_cpus=cpus, threads=threads)


def window(plans: dict[str, ReplicaPlan]) -> int:
    """Groups in flight at most: enough to keep every replica's queue full, no more."""
    return max(2, sum(p.replicas for p in plans.values()) * IN_FLIGHT_PER_REPLICA + 1)


def replica_bytes(config: RunConfig, stage: str) -> int:
    """An estimate of one replica's memory: :data:`REPLICA_BASE_BYTES` and the weights of
    the stage's models where they are local folders (a model still to download counts
    nothing: its size is not known yet)."""
    from summarize.backends.catalog import local_model_dir
    from summarize.run.models import summarizer_name, translator_for

    if stage == "summarize":
        models = {summarizer_name(config)}
    else:
        models = {translator_for(config, lang) for lang in config.targets}
    total = REPLICA_BASE_BYTES
    for model in models:
        folder = local_model_dir(model, Path(config.models_dir))
        if folder is not None:
            total += _weights_size(folder)
    return total


def _weights_size(folder: Path) -> int:
    size = 0
    try:
        for path in folder.iterdir():
            if path.suffix in WEIGHT_SUFFIXES and path.is_file():
                size += path.stat().st_size
    except OSError:
        return 0
    return size


def shortfall(plans: dict[str, ReplicaPlan], resources: dict[str, float],
              memory_each: dict[str, int]) -> str | None:
    """What the plan asks that the resources cannot hold, in words (asked, then existing);
    None when it fits.

    Checked: the GPUs of every stage's replicas; per stage, CPU replicas beyond the CPUs
    (each needs at least a core to be more than a queue); every replica's estimated memory
    (``memory_each``, by stage) beyond ``memory`` (bytes), when Ray reports it.
    """
    gpus = float(resources.get("GPU", 0.0))
    cpus = float(resources.get("CPU", 0.0))
    memory = float(resources.get("memory", 0.0))
    n_stages = len(plans)
    need_gpus = sum(p.replicas * p.num_gpus for p in plans.values())
    if need_gpus > gpus + 1e-9:
        plan = next(iter(plans.values()))
        return (f"the replicas ask for {need_gpus:g} GPU(s) ({plan.replicas} replica(s) per "
                f"stage x {n_stages} stage(s) x {plan.num_gpus:g} GPU) but Ray has "
                f"{gpus:g} GPU(s); lower --replicas or --gpus-per-replica, or pass "
                "--gpus-per-replica 0 to run on CPUs")
    for stage, plan in plans.items():
        if not plan.num_gpus and plan.replicas > max(cpus, 1.0):
            return (f"--replicas {plan.replicas} asks for {plan.replicas} CPU replicas per "
                    f"stage ({stage}) but Ray has {cpus:g} CPU(s); use --replicas "
                    f"{max(1, int(cpus))} or fewer")
    need_memory = sum(p.replicas * memory_each.get(s, REPLICA_BASE_BYTES)
                      for s, p in plans.items())
    if memory and need_memory > memory:
        n = sum(p.replicas for p in plans.values())
        return (f"{n} replica(s) ({n_stages} stage(s)) need about {need_memory / 1e9:.1f} GB "
                f"of memory (about {max(memory_each.values(), default=0) / 1e9:.2f} GB each "
                f"at most) but Ray has {memory / 1e9:.1f} GB; lower --replicas")
    return None


__all__ = ["IN_FLIGHT_PER_REPLICA", "PLACEMENT_WAIT_S", "REPLICA_BASE_BYTES", "STAGES",
           "ReplicaPlan", "model_stages", "plan_replicas", "replica_bytes", "shortfall",
           "window"]
