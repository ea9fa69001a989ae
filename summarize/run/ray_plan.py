"""How ``--engine ray`` places its work: the model stages a run needs, how many replicas each
runs and what each reserves, and whether the machine or cluster can hold that plan.

Nothing here imports Ray: the plan is arithmetic over :func:`ray.cluster_resources`, so it
is tested without a cluster, and a plan that cannot be met is refused in words (what was
asked, what exists) before any replica starts.

One model for both roles (a chat model that summarizes and translates) runs one stage,
:data:`BOTH`, whose replicas load it once and run both phases. With ``--backend vllm`` a
replica holds one vLLM engine per model: on GPUs, ``tensor_parallel_size`` whole GPUs (or
its share of one, its ``gpu_memory_utilization`` scaled to that share); on CPUs, a KV cache
of its own (``kv_cache_gb``, else :data:`VLLM_CPU_KV_GB` cut to the replica's share of the
memory), counted in its memory estimate (:func:`replica_config` hands each replica its
figures).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from summarize.settings import RunConfig

#: The model stages, in pipeline order.
STAGES = ("summarize", "translate")
#: The one stage of a run whose summarizer also makes every translation: both phases on
#: replicas that load the model once.
BOTH = "summarize+translate"
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
#: What a replica's vLLM engine holds besides its weights and KV cache (the engine's
#: buffers and its imports: about 0.6 GB measured on CPU with tiny models).
VLLM_BASE_BYTES = 640 * 2**20
#: KV cache of a vLLM replica on CPUs when ``kv_cache_gb`` is not set (the local engine's
#: default for a run), cut to the replica's share of the memory where that is less.
VLLM_CPU_KV_GB = 1.0
#: The smallest KV cache a vLLM replica on CPUs is cut to (below it: refused, in words).
VLLM_MIN_KV_GB = 0.125


@dataclass(frozen=True)
class ReplicaPlan:
    """How many replicas a stage runs and what each one reserves."""

    replicas: int
    num_gpus: float
    num_cpus: float
    threads: int
    #: vLLM on CPUs: each replica's KV cache in GB (0: not vLLM on CPUs).
    kv_cache_gb: float = 0.0


def model_stages(config: RunConfig) -> tuple[str, ...]:
    """The stages a run needs: ``summarize`` unless ``--no-summary``, ``translate`` unless
    ``--translate none`` (at least one: it builds the records); :data:`BOTH` alone when the
    summarizer is also the translator into every target (one model, loaded once a
    replica)."""
    stages = tuple(s for s, on in zip(STAGES, (config.summarize, config.translate != "none"),
                                      strict=True) if on)
    if len(stages) == 2 and _one_model(config):
        return (BOTH,)
    return stages or ("translate",)


def _one_model(config: RunConfig) -> bool:
    from summarize.run.models import preset_targets, summarizer_name, translator_for

    name = summarizer_name(config)
    return all(translator_for(config, lang) == name for lang in preset_targets(config))


def _vllm(config: RunConfig) -> bool:
    return config.backend == "vllm"


def plan_replicas(config: RunConfig, resources: dict[str, float], n_groups: int | None = None,
                  n_stages: int = 1, replica_bytes: float = 0.0) -> ReplicaPlan:
    """Size each stage's actor pool from the cluster's resources.

    Args:
        config: ``replicas`` per stage (0: one per GPU, or the CPUs split between the
            stages' replicas) and ``gpus_per_replica`` (None: where GPUs exist and the
            device is not ``cpu``, each GPU holds one replica of every stage,
            ``1 / n_stages`` each, or ``tensor_parallel_size`` GPUs for a vLLM model split
            over several; else 0).
        resources: :func:`ray.cluster_resources` (``CPU``, ``GPU``, ``memory`` in bytes).
        n_groups: Groups to process when known (there is no point in more replicas).
        n_stages: Model stages sharing the resources.
        replica_bytes: Estimated memory of one replica (:func:`replica_bytes`, without a
            vLLM KV cache); with the replicas left to the plan (``replicas`` 0), no more
            than memory holds.

    Returns:
        The plan of one stage (every stage gets the same); CPU replicas share the CPUs
        evenly (fractions where there are fewer CPUs than replicas) and use that many
        threads each (at least one). vLLM replicas on CPUs get a KV cache each:
        ``kv_cache_gb`` when set, else :data:`VLLM_CPU_KV_GB` or, when less, what their
        share of ``memory`` leaves beside ``replica_bytes`` (at least
        :data:`VLLM_MIN_KV_GB`: :func:`shortfall` says when even that does not fit).
    """
    total_gpus = float(resources.get("GPU", 0.0))
    total_cpus = max(1.0, float(resources.get("CPU", 1.0)))
    n_stages = max(1, n_stages)
    gpus = config.ray.gpus_per_replica
    if gpus is None:
        gpus = 0.0
        if total_gpus >= 1 and not config.device.startswith("cpu"):
            tp = int(config.backend_options.get("tensor_parallel_size") or 1)
            gpus = float(tp) if _vllm(config) and tp > 1 else 1.0 / n_stages
    if gpus > 0:
        replicas = config.ray.replicas or max(1, int(total_gpus / (gpus * n_stages) + 1e-9))
    else:
        replicas = config.ray.replicas or max(1, int(total_cpus // n_stages))
    memory = float(resources.get("memory", 0.0))
    kv_gb = 0.0
    if _vllm(config) and not gpus:
        kv_gb = float(config.backend_options.get("kv_cache_gb") or VLLM_CPU_KV_GB)
    each = replica_bytes + kv_gb * 2**30
    if not config.ray.replicas and memory and each:
        replicas = min(replicas, max(1, int(memory // (each * n_stages))))
    if n_groups:
        replicas = max(1, min(replicas, n_groups))
    cpus = total_cpus / (replicas * n_stages)
    cpus = min(1.0, cpus) if gpus > 0 else (float(int(cpus)) if cpus >= 1 else round(cpus, 4))
    threads = config.backend_options.get("threads") or max(1, int(cpus))
    if kv_gb and memory and not config.backend_options.get("kv_cache_gb"):
        left = (memory / (replicas * n_stages) - replica_bytes) / 2**30
        kv_gb = max(VLLM_MIN_KV_GB, min(kv_gb, int(left * 64) / 64))  # 1/64 GB steps
    return ReplicaPlan(replicas=replicas, num_gpus=float(gpus), num_cpus=cpus, threads=threads,
                       kv_cache_gb=kv_gb)


def replica_config(config: RunConfig, plan: ReplicaPlan) -> RunConfig:
    """The configuration a replica of ``plan`` loads its models with: for vLLM, its KV
    cache (CPUs) or its part of ``gpu_memory_utilization`` (a share of one GPU: the
    replicas that share it must fit in it together); else ``config`` itself."""
    options = dict(config.backend_options)
    if _vllm(config):
        if plan.kv_cache_gb:
            options["kv_cache_gb"] = plan.kv_cache_gb
        if 0 < plan.num_gpus < 1:
            from summarize.backends.registry import backend_spec

            default = next(o.default for o in backend_spec("vllm").options
                           if o.name == "gpu_memory_utilization")
            used = float(options.get("gpu_memory_utilization") or default)
            options["gpu_memory_utilization"] = round(used * plan.num_gpus, 4)
    return replace(config, backend_options=options) if options != config.backend_options \
        else config


def window(plans: dict[str, ReplicaPlan]) -> int:
    """Groups in flight at most: enough to keep every replica's queue full, no more."""
    return max(2, sum(p.replicas for p in plans.values()) * IN_FLIGHT_PER_REPLICA + 1)


def replica_bytes(config: RunConfig, stage: str) -> int:
    """An estimate of one replica's memory: :data:`REPLICA_BASE_BYTES` (and
    :data:`VLLM_BASE_BYTES` a model with ``--backend vllm``) and the weights of the stage's
    models where they are local folders (a model still to download counts nothing: its
    size is not known yet). A vLLM KV cache on CPUs is the plan's
    (:attr:`ReplicaPlan.kv_cache_gb`), added by :func:`shortfall`."""
    from summarize.backends.catalog import local_model_dir
    from summarize.run.models import summarizer_name, translator_for

    models: set[str] = set()
    if stage in ("summarize", BOTH):
        models.add(summarizer_name(config))
    if stage in ("translate", BOTH):
        models |= {translator_for(config, lang) for lang in config.targets}
    total = REPLICA_BASE_BYTES + (VLLM_BASE_BYTES * len(models) if _vllm(config) else 0)
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
    (``memory_each``, by stage, plus its vLLM KV cache on CPUs) beyond ``memory`` (bytes),
    when Ray reports it.
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
    each = {s: memory_each.get(s, REPLICA_BASE_BYTES) + p.kv_cache_gb * 2**30
            for s, p in plans.items()}
    need_memory = sum(p.replicas * each[s] for s, p in plans.items())
    if memory and need_memory > memory:
        n = sum(p.replicas for p in plans.values())
        kv = max(p.kv_cache_gb for p in plans.values())
        with_kv = f", a {kv:g} GB vLLM KV cache included" if kv else ""
        lower = "lower --replicas" + (" or --kv-cache-gb" if kv else "")
        return (f"{n} replica(s) ({n_stages} stage(s)) need about {need_memory / 1e9:.1f} GB "
                f"of memory (about {max(each.values(), default=0) / 1e9:.2f} GB each "
                f"at most{with_kv}) but Ray has {memory / 1e9:.1f} GB; {lower}")
    return None


__all__ = ["BOTH", "IN_FLIGHT_PER_REPLICA", "PLACEMENT_WAIT_S", "REPLICA_BASE_BYTES", "STAGES",
           "VLLM_BASE_BYTES", "VLLM_CPU_KV_GB", "VLLM_MIN_KV_GB", "ReplicaPlan",
           "model_stages", "plan_replicas", "replica_bytes", "replica_config", "shortfall",
           "window"]
