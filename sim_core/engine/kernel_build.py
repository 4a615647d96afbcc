"""Compile the kernel ahead of time: ``python -m sim_core.engine.kernel_build`` writes ``_kernel_aot*.so`` beside it.

Uses numba's ``pycc`` and a C compiler (gcc/clang, or MSVC on Windows), about 15 s. The result
needs only libc, libm and numpy at run time: no numba, no llvmlite, no compiler cache, so the
packaged app ships without them (half the size) and starts without compiling. Run by the
PyInstaller spec (``scalelab.spec``) before it collects the app; optional for a source install,
where the JIT (with its cache) is the fallback. ``sim_core.engine.kernel`` checks the digest baked in
here against ``kernel_loops.py`` and ignores a library built from another version of it.

``numba.pycc`` is pending deprecation ("replacement technology is being developed"; still in
numba 0.68). When it is removed, this module is what changes: build with numba's successor AOT
compiler if it exists by then, or else bundle numba + llvmlite and let ``sim_core.engine.kernel`` JIT
with its cache (the fallback chain already does this; a frozen app then needs its cache keyed on
the build, because numba ignores ``NUMBA_CACHE_DIR`` for a module that is not on disk). Until
then, pin ``numba<0.69`` in the build environment if a release drops it.

Signatures use layout 'A' (any strides) so a caller passing a non-contiguous view is not refused;
the loops index element by element, so 'A' costs nothing measurable against 'C' here.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from sim_core.engine import kernel

F, I = "float64[:]", "int64[:]"  # noqa: E741 - one letter keeps the signatures readable
SIGNATURES = {
    "serve": "UniTuple(int64, 4)(" + ", ".join([
        F, F, I, I, "int64", I,  # arr, work, choice1, choice2, policy, routable
        "boolean[:]", F, I, I, F, F, "float64",  # up, speed, cores, capacity, storage_cap_kb, storage_used_kb, data_kb
        "float64[:, :]", F, I, "int64", I, I, "boolean", I,  # core_free, heap_t, heap_n, heap_len, in_sys, lc_ptr,
        #                                                      track, routed
        I, F, F, "int8[:]",  # out_node, out_start, out_dep, out_status
        "int64", I, F, F, F, I, "int64",  # rid0, p_rid, p_arr, p_start, p_dep, p_node, p_len
        "int64", "int64",  # held_limit, held
    ]) + ")",
    "settle": "UniTuple(int64, 2)(" + ", ".join([
        F, F, F, I, I, "float64", "float64",  # p_arr, p_start, p_dep, p_node, p_rid, t0, t1
        F, I, I, I, F,  # busy, served, queue, in_flight, lat_out
    ]) + ")",
}


def build(output_dir: Path | None = None, verbose: bool = False) -> Path:
    """Compile ``serve`` and ``settle`` into ``sim_core/engine/_kernel_aot<suffix>``; returns the file's path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc's pending-deprecation notice: answered in the docstring
        from numba.pycc import CC

    namespace, _ = kernel.jit_namespace(cache=False)  # callees compiled as numba functions, no cache written
    namespace["DIGEST"] = kernel.source_digest(kernel.SOURCE.read_bytes())
    exec("def source_digest():\n    return DIGEST\n", namespace)  # a constant baked into the library
    cc = CC(kernel.AOT_MODULE)
    cc.output_dir = str(output_dir or kernel.SOURCE.parent)
    cc.verbose = verbose
    for name, signature in SIGNATURES.items():
        cc.export(name, signature)(namespace[name].py_func)
    cc.export("source_digest", "int64()")(namespace["source_digest"])
    cc.compile()
    return Path(cc.output_dir) / cc.output_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim_core.engine.kernel_build", description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, help="where to write the library (default: beside the sources)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    t = time.perf_counter()
    path = build(args.output_dir, args.verbose)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
