"""jaxdl.compile_cache: which folder the CLIs cache compiled programs in, and a second run compiling nothing."""

import json
import os
import subprocess
import sys

from jaxdl import cli, compile_cache
from tests.conftest import REPO


def test_choose_prefers_the_flag_then_jaxdl_variable_then_jax_variable_then_the_default():
    env = {"XDG_CACHE_HOME": "/c"}
    assert compile_cache.choose(None, env) == "/c/jaxdl/jax_compilation_cache"
    env[compile_cache.JAX_DIR_ENV] = "/jax"
    assert compile_cache.choose(None, env) == "/jax"
    env[compile_cache.ENV] = "/mine"
    assert compile_cache.choose(None, env) == "/mine"
    assert compile_cache.choose("/flag", env) == "/flag"
    assert compile_cache.choose("off", env) is None
    assert compile_cache.choose(None, {**env, compile_cache.ENV: "OFF"}) is None


def test_since_counts_between_snapshots():
    before = {"folder": "f", "hits": 1, "misses": 2}
    assert compile_cache.since(before, {"folder": "f", "hits": 4, "misses": 2}) == {
        "folder": "f", "hits": 3, "misses": 0, "all_from_cache": True}
    assert not compile_cache.since(before, {"folder": "f", "hits": 4, "misses": 3})["all_from_cache"]


def test_every_cli_parser_has_the_compile_cache_flag():
    assert "--compile-cache" in cli.parser("doc", "x").format_help()


def test_a_second_vanishing_gradient_run_reads_every_program_from_the_cache(tmp_path, mnist_dir):
    env = {key: value for key, value in os.environ.items() if not key.startswith("JAX_")}
    command = [sys.executable, "-m", "experiments.vanishing_gradient", "--data-dir", str(mnist_dir), "--steps", "100",
               "--out", str(tmp_path / "out"), "--compile-cache", str(tmp_path / "cache")]
    caches = []
    for _ in range(2):
        subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True, timeout=300)
        caches.append(json.loads((tmp_path / "out" / "results.json").read_text())["compile_cache"])
    assert caches[0]["misses"] > 0 and not caches[0]["all_from_cache"]
    assert caches[1]["misses"] == 0 and caches[1]["hits"] == caches[0]["misses"] and caches[1]["all_from_cache"]
