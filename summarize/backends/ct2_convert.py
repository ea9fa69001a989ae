"""Convert Hugging Face seq2seq models for CTranslate2, once, into the local model store.

A conversion goes into ``<models_dir>/.ct2/<name>-<revision>-<quantization>/``: it is written
into a temporary folder beside it, gets its completion marker (``.complete``, which records
every file's size and sha256) last and is then renamed into place. Each use checks the files
against that record (:func:`conversion_problem`); a folder that does not match (a file
truncated, changed, missing or grown), has no marker (interrupted) or predates the record is
converted again into a fresh temporary folder and swapped in. One process converts a given
folder at a time (a lock file beside it); temporary folders of dead processes are removed.
A full disk is one line saying where and how much space the conversion needs.

The converter itself, with this project's fixes, is
:mod:`summarize.backends.ct2_converter`'s.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ctranslate2

from summarize.backends.ct2_converter import converter_class
from summarize.errors import ModelLoadError

log = logging.getLogger(__name__)

STORE = ".ct2"
MARKER = ".complete"
#: Bump when the conversion recipe changes: stored conversions of another version are redone.
RECIPE_VERSION = 1
#: Files up to this size are hashed whole on every use; larger ones are sampled while their
#: inode, mtime and ctime are those recorded (see :func:`conversion_problem`).
FULL_HASH_BYTES = 64 << 20
SAMPLE_BLOCKS = 16
_BLOCK = 1 << 20
MARKER_MAX_BYTES = 4 << 20
_CONVERT_LOCK = threading.Lock()


def _safe_name(model: str) -> str:
    name = model.rstrip("/\\")
    if Path(name).expanduser().is_dir():
        name = Path(name).expanduser().resolve().name
    return re.sub(r"[^A-Za-z0-9._-]+", "--", name).strip("-.") or "model"


def files_hash(folder: Path) -> str:
    """A short fingerprint of a model folder: config bytes, and each file's name and size."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        if path.name in ("config.json", "generation_config.json"):
            digest.update(path.read_bytes())
        else:
            digest.update(str(path.stat().st_size).encode())
    digest.update(str(folder.resolve()).encode())
    return digest.hexdigest()[:12]


def store_dir(models_dir: Path, model: str, revision: str | None, folder: Path | None,
              quantization: str) -> Path:
    """Where the conversion of ``model`` at ``revision`` with ``quantization`` lives."""
    if revision:
        key = re.sub(r"[^A-Za-z0-9]+", "", revision)[:12] or "rev"
    elif folder is not None:
        key = "files" + files_hash(folder)
    else:
        key = "norev"
    return Path(models_dir) / STORE / f"{_safe_name(model)}-{key}-{quantization}"


def is_complete(path: Path) -> bool:
    """Whether ``path`` holds a finished conversion of the current recipe whose files match
    the record made when it was converted (see :func:`conversion_problem`)."""
    return conversion_problem(path) is None


def conversion_problem(path: Path) -> str | None:
    """What is wrong with the conversion in ``path``, or None when it can be used.

    Every file's size is checked; files up to :data:`FULL_HASH_BYTES` are hashed whole. A
    larger file is hashed whole only when its inode, mtime or ctime changed since it was
    recorded (anything written to it through the filesystem changes them); otherwise
    :data:`SAMPLE_BLOCKS` blocks spread over it are hashed. A marker from before files were
    recorded is a problem: the conversion is redone once.
    """
    if not path.is_dir():
        return "is missing"
    marker = _read_marker(path / MARKER)
    if marker is None:
        return "has no completion marker (an interrupted conversion)"
    if marker.get("recipe") != RECIPE_VERSION:
        return f"was made by conversion recipe {marker.get('recipe')!r}, not {RECIPE_VERSION}"
    files = marker.get("files")
    if not isinstance(files, dict) or "model.bin" not in files:
        return "has no record of its files (converted by an older version)"
    refreshed: dict[str, dict[str, Any]] = {}
    for name, record in sorted(files.items()):
        if not _valid_record(name, record):
            return f"has an invalid record of '{name}' in its marker"
        problem, fresh = _file_problem(path / name, record)
        if problem is not None:
            return f"does not match its record: {name} {problem}"
        if fresh is not None:
            refreshed[name] = fresh
    if refreshed:  # verified whole after a copy or a touch: the next load samples again
        _write_marker(path / MARKER, {**marker, "files": {**files, **refreshed}}, quiet=True)
    return None


def _valid_record(name: Any, record: Any) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..", MARKER)
            and "/" not in name and "\\" not in name
            and isinstance(record, dict) and isinstance(record.get("bytes"), int)
            and isinstance(record.get("sha256"), str))


def _read_marker(marker: Path) -> dict[str, Any] | None:
    try:
        if not stat.S_ISREG(os.stat(marker).st_mode):
            return None  # never open a FIFO or a device put in its place
        with open(marker, "rb") as handle:
            raw = handle.read(MARKER_MAX_BYTES + 1)
        data = json.loads(raw.decode("utf-8")) if len(raw) <= MARKER_MAX_BYTES else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(marker: Path, data: dict[str, Any], *, quiet: bool = False) -> None:
    """Write ``marker`` whole or not at all (a temporary file renamed over it)."""
    tmp = marker.with_name(f"{marker.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, marker)
    except OSError as exc:
        _remove(tmp)
        if not quiet:
            raise
        log.debug("cannot update %s: %s", marker, exc)


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def _full_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def _sampled_sha256(path: Path, size: int) -> str:
    """sha256 of the size and :data:`SAMPLE_BLOCKS` blocks of 1 MiB from start to end."""
    digest = hashlib.sha256(str(size).encode())
    last = max(size - _BLOCK, 0)
    with open(path, "rb") as handle:
        for i in range(SAMPLE_BLOCKS):
            handle.seek(last * i // (SAMPLE_BLOCKS - 1))
            digest.update(handle.read(_BLOCK))
    return digest.hexdigest()


def _file_record(path: Path) -> dict[str, Any]:
    st = os.stat(path)
    record: dict[str, Any] = {"bytes": st.st_size, "sha256": _full_sha256(path)}
    if st.st_size > FULL_HASH_BYTES:
        record["sampled_sha256"] = _sampled_sha256(path, st.st_size)
        record["stat"] = _stat_key(st)
    return record


def _file_problem(path: Path, record: dict[str, Any]
                  ) -> tuple[str | None, dict[str, Any] | None]:
    """(what is wrong with ``path``, or None; a refreshed record when its stat changed)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return "is not a regular file", None
        if st.st_size != record["bytes"]:
            return f"has {st.st_size} bytes, {record['bytes']} when converted", None
        sampled = record.get("sampled_sha256")
        if st.st_size > FULL_HASH_BYTES and isinstance(sampled, str) \
                and record.get("stat") == _stat_key(st):
            if _sampled_sha256(path, st.st_size) != sampled:
                return "has changed since it was converted", None
            return None, None
        if _full_sha256(path) != record["sha256"]:
            return "has changed since it was converted", None
    except FileNotFoundError:
        return "is missing", None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})", None
    if st.st_size > FULL_HASH_BYTES:
        return None, {**record, "sampled_sha256": _sampled_sha256(path, st.st_size),
                      "stat": _stat_key(st)}
    return None, None


def _sync(path: Path) -> None:
    """fsync a file, or a folder where the system allows it (POSIX)."""
    if path.is_dir():
        if os.name != "posix":
            return
        fd = os.open(path, os.O_RDONLY)
    else:
        fd = os.open(path, os.O_RDWR)  # Windows commits only a handle open for writing
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise  # a folder some filesystems cannot sync; a full disk is still an error
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Remove a file, a link (not what it points to) or a folder, if it exists."""
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clear_leftovers(target: Path) -> None:
    """Remove the temporary and replaced folders of dead conversions (and of this process,
    which holds the lock and so has none in use)."""
    for kind in ("partial", "old"):
        for tmp in target.parent.glob(f".{target.name}.{kind}-*"):
            pid = tmp.name.rsplit("-", 1)[-1]
            if not pid.isdigit() or not _pid_alive(int(pid)) or int(pid) == os.getpid():
                _remove(tmp)


@contextmanager
def _store_lock(target: Path) -> Iterator[None]:
    """Hold the store's lock for ``target``: one process converts or repairs it at a time."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(target.parent / f".{target.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning("waiting for another process converting into %s", target)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def ensure_converted(source: str, target: Path, *, quantization: str, model_id: str,
                     revision: str | None, trust_remote_code: bool = False,
                     allow_pickle: bool = False) -> tuple[Path, bool]:
    """The converted model at ``target``, converting it first when needed.

    A conversion that no longer matches the record of its files (see
    :func:`conversion_problem`) is converted again into a temporary folder and swapped in.
    Processes converting the same model take turns (a lock file beside ``target``); the one
    that waited uses what the first one wrote.

    Returns:
        (the folder, whether this call converted it).

    Raises:
        ModelLoadError: The converter cannot convert this model; the disk is full (the
            message says where and how much the conversion needs); another OS error
            (what failed); or a broken conversion cannot be replaced (which folder to
            delete).
    """
    if conversion_problem(target) is None:
        return target, False
    try:
        with _CONVERT_LOCK:
            target.parent.mkdir(parents=True, exist_ok=True)
            with _store_lock(target):
                problem = conversion_problem(target)
                if problem is None:  # another process converted or repaired it meanwhile
                    return target, False
                if problem != "is missing":
                    log.warning("the CTranslate2 conversion in %s %s; converting it again",
                                target, problem)
                _clear_leftovers(target)
                tmp = target.parent / f".{target.name}.partial-{os.getpid()}"
                try:
                    _convert(source, tmp, quantization=quantization, model_id=model_id,
                             revision=revision, trust_remote_code=trust_remote_code,
                             allow_pickle=allow_pickle)
                except BaseException:
                    _remove(tmp)
                    raise
                _swap_in(tmp, target)
                return target, True
    except ModelLoadError:
        raise
    except Exception as exc:
        raise _conversion_error(exc, source, target, quantization, model_id) from exc


def load_error(folder: Path, exc: BaseException) -> ModelLoadError:
    """One line for CTranslate2 failing to load the conversion in ``folder``.

    CTranslate2 raises RuntimeError for what it reads (model.bin, config, vocabulary) and
    ValueError for a setting (a compute type the device lacks); a file problem in a
    conversion that matches its record is what the converter wrote or what this version of
    CTranslate2 cannot read, so the line says which folder to delete to convert again.
    """
    first = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
    message = f"CTranslate2 cannot load the conversion in {folder}: {first}"
    lowered = first.lower()
    if not isinstance(exc, RuntimeError) or any(
            word in lowered for word in ("memory", "cuda", "cudnn", "cublas", "device")):
        return ModelLoadError(message)
    made = (_read_marker(folder / MARKER) or {}).get("ctranslate2")
    if isinstance(made, str) and made != ctranslate2.__version__:
        message += f" (converted by CTranslate2 {made}; this is {ctranslate2.__version__})"
    return ModelLoadError(f"{message}; delete that folder to convert the model again")


def _convert(source: str, tmp: Path, *, quantization: str, model_id: str,
             revision: str | None, trust_remote_code: bool, allow_pickle: bool) -> None:
    """Convert into ``tmp``, record every file's size and hash in the marker, sync it all."""
    from ctranslate2.converters import transformers as ct2t

    started = time.perf_counter()
    loaders = dict(ct2t._MODEL_LOADERS)  # _patch_loader replaces one for this conversion
    try:
        converter = converter_class()(source, trust_remote_code=trust_remote_code,
                               allow_pickle=allow_pickle)
        try:
            converter.convert(str(tmp), quantization=quantization, force=True)
        finally:
            ct2t._MODEL_LOADERS.clear()
            ct2t._MODEL_LOADERS.update(loaders)
    except (ModelLoadError, OSError):
        raise
    except Exception as exc:
        if _disk_full(exc) is not None:
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(
            f"cannot convert '{model_id}' for CTranslate2: {first}; use --backend torch"
        ) from exc
    files = {}
    for path in sorted(tmp.iterdir()):
        if path.is_file() and not path.is_symlink():
            _sync(path)
            files[path.name] = _file_record(path)
    _write_marker(tmp / MARKER, {
        "model_id": model_id, "revision": revision, "quantization": quantization,
        "recipe": RECIPE_VERSION, "ctranslate2": ctranslate2.__version__,
        "seconds": round(time.perf_counter() - started, 2), "files": files,
    })
    _sync(tmp)


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the finished ``tmp`` at ``target``: the folder there (broken, unfinished or of
    another recipe) is renamed away first, then removed."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        _remove(old)
        try:
            os.rename(target, old)
        except OSError as exc:
            _remove(tmp)
            raise ModelLoadError(
                f"cannot replace the CTranslate2 conversion {target} ({exc.strerror or exc}); "
                f"delete that folder to convert the model again"
            ) from exc
    try:
        os.rename(tmp, target)
    except OSError:
        _remove(tmp)
        if conversion_problem(target) is not None:
            raise  # else a process that does not take the lock finished it first
    finally:
        if old is not None:
            _remove(old)
    try:
        _sync(target.parent)
    except OSError as exc:  # the conversion is in place; only its durability is unsure
        log.debug("cannot sync %s: %s", target.parent, exc)


_DISK_FULL_ERRNOS = {errno.ENOSPC: "the disk is full",
                     getattr(errno, "EDQUOT", -1): "the disk quota is exceeded"}


def _disk_full(exc: BaseException | None) -> OSError | None:
    """The disk-full (or over-quota) error in ``exc``'s chain, if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _conversion_error(exc: Exception, source: str, target: Path, quantization: str,
                      model_id: str) -> ModelLoadError:
    """One line for an OS error while converting: a full disk says where and how much."""
    full = _disk_full(exc)
    if full is not None:
        need = needed_bytes(source, quantization)
        try:
            free = f"{_size(shutil.disk_usage(target.parent).free)} free"
        except OSError:
            free = "free space unknown"
        how_much = f"about {_size(need)}" if need else "about the size of the model's weights"
        return ModelLoadError(
            f"{_DISK_FULL_ERRNOS[full.errno]}: cannot write the CTranslate2 conversion of "
            f"'{model_id}' into {target.parent} (it needs {how_much}, {free}); free some "
            "space or choose another --models-dir, then run again"
        )
    if isinstance(exc, OSError):
        what = exc.strerror or (str(exc).splitlines() or [type(exc).__name__])[0]
        name = exc.filename
        if name is not None and str(name).startswith(str(target.parent)):
            return ModelLoadError(f"cannot write the CTranslate2 conversion of '{model_id}' "
                                  f"into {target.parent}: {what} ({name})")
        where = f" ({name})" if name is not None else ""
        return ModelLoadError(f"cannot convert '{model_id}' for CTranslate2: {what}{where}; "
                              "use --backend torch")
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ModelLoadError(f"cannot convert '{model_id}' for CTranslate2: {first}; "
                          "use --backend torch")


#: Bytes per weight in a conversion of each quantization (int8 stores float scales and
#: keeps biases and norms in float: ``needed_bytes`` adds :data:`_SPACE_MARGIN` for them).
_BYTES_PER_WEIGHT = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1,
                     "int8_float32": 1, "int8_float16": 1, "int8_bfloat16": 1, "int16": 2}
_SPACE_MARGIN = 1.1


def needed_bytes(source: str, quantization: str) -> int | None:
    """About how many bytes the conversion of ``source`` with ``quantization`` writes: its
    weight count (from the safetensors headers; pickle weights count as float32) times the
    bytes per weight, plus a margin; None when the weights cannot be found."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(source, local_files_only=True))
        except Exception:  # not in the cache: no estimate
            return None
    weights = 0
    for path in folder.glob("*.safetensors"):
        weights += _safetensors_weights(path)
    if not weights:
        weights = sum(p.stat().st_size for p in folder.glob("*.bin")) // 4
    per = _BYTES_PER_WEIGHT.get(quantization, 4)
    return int(weights * per * _SPACE_MARGIN) or None


def _safetensors_weights(path: Path) -> int:
    """How many weights one safetensors file holds (its header's shapes; 0 if unreadable)."""
    try:
        with open(path, "rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if not 0 < length <= 100 << 20:
                return 0
            header = json.loads(handle.read(length))
    except (OSError, ValueError):
        return 0
    count = 0
    for name, entry in header.items():
        if name == "__metadata__" or not isinstance(entry, dict):
            continue
        n = 1
        for dim in entry.get("shape", []):
            n *= int(dim)
        count += n
    return count


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e3:.0f} kB"
