"""JAX's persistent compilation cache for every jaxdl CLI: compile a program once, not once per run.

Where the cache lives, first match wins:

1. the CLI flag `--compile-cache DIR|off`;
2. the environment variable JAXDL_COMPILE_CACHE (a folder, or "off");
3. JAX_COMPILATION_CACHE_DIR when already set (the test suite sets it to the repository's .jax_cache);
4. `default_folder()`: $XDG_CACHE_HOME/jaxdl/jax_compilation_cache (~/.cache/... without it).

Every program is cached however fast it compiled and however small (min compile time 0 s, min
entry size 0 B), so a second run of the same CLI with the same flags compiles nothing: XLA reads
each executable back (CPU, GPU and TPU alike). `CacheEvents` counts the hits and misses JAX
reports, which is how an output says where its compile time went.

This module imports no JAX at import time: `configure` sets the environment (read by a JAX
imported later, and by child processes) and, when JAX is already imported, its config too.
"""

import os
import pathlib
import sys
from collections.abc import Mapping
from typing import Any

ENV = "JAXDL_COMPILE_CACHE"
OFF = "off"
JAX_DIR_ENV = "JAX_COMPILATION_CACHE_DIR"
# jax.config names and values beyond the folder; the environment holds the same in upper case.
SETTINGS = {"jax_persistent_cache_min_compile_time_secs": 0.0, "jax_persistent_cache_min_entry_size_bytes": 0}
HIT_EVENT = "/jax/compilation_cache/cache_hits"
MISS_EVENT = "/jax/compilation_cache/cache_misses"


def default_folder(environ: Mapping[str, str] | None = None) -> pathlib.Path:
    """$XDG_CACHE_HOME/jaxdl/jax_compilation_cache, or ~/.cache/jaxdl/jax_compilation_cache."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "jaxdl" / "jax_compilation_cache"


def choose(flag: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The cache folder to use (see the module docstring for the order), or None for off."""
    environ = os.environ if environ is None else environ
    for value in (flag, environ.get(ENV), environ.get(JAX_DIR_ENV)):
        if value is not None and value.strip():
            return None if value.strip().lower() == OFF else value
    return str(default_folder(environ))


def configure(folder: str | None) -> str | None:
    """Turn the persistent cache on in `folder` (created if missing), or off for None; returns `folder`.

    Sets JAX_COMPILATION_CACHE_DIR / JAX_ENABLE_COMPILATION_CACHE and SETTINGS in the environment
    (a JAX imported later and child processes read them) and in jax.config when JAX is imported.
    """
    if folder is not None:
        pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
        os.environ[JAX_DIR_ENV] = str(folder)
        os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "true"
        for name, value in SETTINGS.items():
            os.environ[name.upper()] = str(value)
    else:
        os.environ.pop(JAX_DIR_ENV, None)
        os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    if "jax" in sys.modules:
        import jax

        jax.config.update("jax_enable_compilation_cache", folder is not None)
        if folder is not None:
            jax.config.update("jax_compilation_cache_dir", str(folder))
            for name, value in SETTINGS.items():
                jax.config.update(name, value)
    return folder


def folder_in_use() -> str | None:
    """The folder JAX caches into now (None: off or unset)."""
    import jax

    if not jax.config.jax_enable_compilation_cache:
        return None
    return jax.config.jax_compilation_cache_dir


class CacheEvents:
    """Counts JAX's persistent-cache hits and misses from the moment it is made (a process-wide
    listener; `snapshot()` gives the counts since then).

    A miss is a program XLA compiled (and then wrote to the cache); a hit one read back instead.
    """

    def __init__(self) -> None:
        import jax.monitoring

        self.counts = {HIT_EVENT: 0, MISS_EVENT: 0}
        jax.monitoring.register_event_listener(self._record)

    def _record(self, event: str, **_: Any) -> None:
        if event in self.counts:
            self.counts[event] += 1

    def snapshot(self) -> dict[str, Any]:
        """{"folder", "hits", "misses", "all_from_cache"}: all_from_cache is True when at least
        one program was looked up and none had to be compiled."""
        hits, misses = self.counts[HIT_EVENT], self.counts[MISS_EVENT]
        return {"folder": folder_in_use(), "hits": hits, "misses": misses,
                "all_from_cache": hits > 0 and misses == 0}


_EVENTS: CacheEvents | None = None


def events() -> CacheEvents:
    """The process's CacheEvents (made, and its listener registered, on the first call)."""
    global _EVENTS
    if _EVENTS is None:
        _EVENTS = CacheEvents()
    return _EVENTS


def since(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The hits and misses between two `CacheEvents.snapshot()`s, as snapshot() reports them."""
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    return {"folder": after["folder"], "hits": hits, "misses": misses, "all_from_cache": hits > 0 and misses == 0}
