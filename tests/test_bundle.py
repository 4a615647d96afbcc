"""The packaged executable: build the one-folder bundle with ``scalelab.spec``, run its self-test, and check
that a headless run writes the same CSV, byte for byte, as the same run from source.

Marked ``bundle`` (about 1 minute of CPU; several on a loaded machine): CI runs it, a developer can
skip it with ``pytest -m "not bundle"``. The source run uses numba's JIT and the bundle the library
compiled ahead of time, so equal CSVs also show the two compiled forms agree end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXE = "scalelab.exe" if sys.platform == "win32" else "scalelab"

# the build alone took 5 min under load; the "aot" group keeps the kernel library built by one xdist worker
pytestmark = [pytest.mark.bundle, pytest.mark.timeout(1500), pytest.mark.xdist_group("aot")]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, aot_kernel) -> Path:
    pytest.importorskip("PyInstaller", reason="PyInstaller is in the test extras: pip install -e '.[test]'")
    work = tmp_path_factory.mktemp("pyinstaller")
    done = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", str(work / "dist"),
         "--workpath", str(work / "build"), str(REPO / "scalelab.spec"), "--", "--onedir"],
        cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    exe = work / "dist" / "scalelab" / EXE
    assert exe.exists()
    return exe


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Offscreen Qt, and a home, config and data folder of its own (no user state read or written)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
                XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"), **extra)


def test_the_bundle_passes_its_selftest_with_the_compiled_kernel(bundle, tmp_path):
    done = subprocess.run([str(bundle), "--selftest"], env=isolated_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   kernel: compiled ahead of time" in done.stdout
    assert "selftest passed (packaged executable): 7 checks" in done.stdout
    assert not (bundle.parent / "_internal" / "numba").exists()  # the bundle carries no compiler


def test_a_headless_run_writes_the_same_csv_as_from_source(bundle, tmp_path):
    args = ["run", "gain-fault-tolerance", "--seconds", "30", "--csv"]
    packaged = subprocess.run([str(bundle), *args, str(tmp_path / "bundle.csv")], env=isolated_env(tmp_path),
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert packaged.returncode == 0, packaged.stderr
    source = subprocess.run([sys.executable, "-m", "app", *args, str(tmp_path / "source.csv")],
                            env=isolated_env(tmp_path, SCALELAB_KERNEL="jit", PYTHONPATH=str(REPO)),
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert source.returncode == 0, source.stderr
    bundled_csv = (tmp_path / "bundle.csv").read_bytes()
    assert bundled_csv.count(b"\n") == 31  # a header and 30 one-second rows
    assert bundled_csv == (tmp_path / "source.csv").read_bytes()
