"""The kernel's three forms (ahead of time, JIT, plain Python) give identical runs, and the JIT never
fails for want of a writable cache: it moves the cache, or compiles without one."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim_core.engine import kernel
from sim_core.engine.simulation import Simulation
from sim_core.scenario_file import resolve

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.xdist_group("aot")  # one xdist worker builds the kernel library (see conftest)


POLICIES = ("round_robin", "random", "weighted", "least_connections", "power_of_two")


def scenario_with(name: str, policy: str | None) -> object:
    scenario = resolve(name)
    if policy is None:
        return scenario
    return scenario.model_copy(update={"balancer": scenario.balancer.model_copy(update={"policy": policy})})


def recorded_run(scenario, seconds: float) -> object:
    sim = Simulation(scenario, record=True)
    while sim.t < seconds - 1e-9:
        sim.step(0.1)
    return sim.request_log()


@pytest.fixture
def restore_kernel():
    yield
    kernel.use()


@pytest.mark.parametrize(("name", "policy"), [("gain-fault-tolerance", None)]
                         + [("horizontal-7x1", policy) for policy in POLICIES])
def test_every_form_gives_the_same_requests_bit_for_bit(name, policy, aot_kernel, restore_kernel):
    logs = {}
    for form in kernel.KINDS:
        assert kernel.use(form) == form
        logs[form] = recorded_run(scenario_with(name, policy), 10.0)
    reference = logs["python"]
    assert reference.arrival.size > 100  # a run with traffic, not an empty comparison
    for form in ("aot", "jit"):
        for field in dataclasses.fields(reference):
            assert np.array_equal(getattr(logs[form], field.name), getattr(reference, field.name), equal_nan=True), \
                (form, field.name)


def test_a_stale_library_is_not_used(aot_kernel, monkeypatch, tmp_path, restore_kernel):
    changed = tmp_path / "kernel_loops.py"
    changed.write_bytes(kernel.SOURCE.read_bytes() + b"\n# edited\n")
    monkeypatch.setattr(kernel, "SOURCE", changed)
    with pytest.raises(ImportError, match="older kernel_loops.py"):
        kernel.use("aot")
    assert kernel.use() == "jit"
    assert "skipped aot: " in kernel.describe()


def test_an_unknown_form_is_named():
    with pytest.raises(ImportError, match="'fast' is not one of aot, jit, python"):
        kernel.use("fast")


# numba's default cache locations made unusable, as with a read-only install and an unwritable home:
# CI runs as root, which writes anywhere, so numba is told to try only NUMBA_CACHE_DIR, left unset.
# The kernel's functions go through the same kernel._njit as this small one, which compiles in a blink.
JIT_PROBE = """
import sys, tempfile
import numba
tempfile.tempdir = sys.argv[1]  # the temporary directory the fallback may use
sys.path.insert(0, sys.argv[2])
try:
    numba.njit(cache=True)(lambda x: x)
    print("plain cache=True worked")
except RuntimeError as exc:
    print("plain cache=True failed:", exc)
import probed
from sim_core.engine import kernel
twice, where = kernel._njit(probed.twice)
assert twice(21) == 42
print("cache:", where)
print("cache hits:", len(twice.stats.cache_hits))
"""


def probe(tmpdir: Path, module_dir: Path) -> str:
    (module_dir / "probed.py").write_text("def twice(x):\n    return 2 * x\n")
    env = dict(os.environ, NUMBA_CACHE_LOCATOR_CLASSES="UserProvidedCacheLocator", NUMBA_CACHE_DIR="")
    env.pop("NUMBA_CACHE_DIR")
    done = subprocess.run([sys.executable, "-c", JIT_PROBE, str(tmpdir), str(module_dir)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_jit_without_a_writable_cache_location_caches_in_a_private_temporary_folder(tmp_path):
    first = probe(tmp_path, tmp_path)
    assert "plain cache=True failed: cannot cache function" in first  # the failure being handled
    assert f"cache: cache in {tmp_path}" in first and "cache hits: 0" in first
    second = probe(tmp_path, tmp_path)
    assert "cache hits: 1" in second  # the second launch loads, it does not compile again


def test_jit_without_any_writable_folder_compiles_without_a_cache(monkeypatch):
    from numba.core import config

    monkeypatch.setattr(config, "CACHE_LOCATOR_CLASSES", "UserProvidedCacheLocator")
    monkeypatch.setattr(config, "CACHE_DIR", "")
    monkeypatch.setattr(kernel, "_private_cache_dir", lambda: None)

    def twice(x):
        return 2 * x

    compiled, where = kernel._njit(twice)
    assert where == "no writable cache location: compiled at each launch"
    assert compiled(21) == 42 and type(compiled._cache).__name__ == "NullCache"  # nothing written anywhere
