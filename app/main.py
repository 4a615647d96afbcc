"""The ``scalelab`` command: ``run``/``validate``/``sweep`` stay headless; ``--selftest`` checks the install;
anything else opens the window.

Start-up order matters for the first frame (goal: under 1 s): nothing here imports Qt, numba or
the engine before it is needed, and the window defers the kernel's warm-up (loading numba, or
the compiled library) until its first frame is painted.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``scalelab [run|validate|sweep|--selftest] ...``; otherwise start the window. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # numpy's OpenBLAS starts a worker thread per core when numpy is imported; ScaleLab multiplies no
    # large matrices, and those threads cost 0.08 s of the first frame on a 2-core machine (a user's
    # own setting wins). Child processes (the N-1 check, sweep workers) inherit it.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if getattr(sys, "frozen", False):  # a bundled app's worker process (the N-1 check) starts here
        import multiprocessing

        multiprocessing.freeze_support()
    if args and args[0] in ("run", "validate", "sweep"):
        from sim_core.cli import main as cli_main

        return cli_main(args)
    if args and args[0] == "--selftest":
        from app.selftest import main as selftest

        return selftest(args[1:])
    import gc

    gc.disable()  # start-up makes objects that live as long as the app: collecting them would delay the first frame
    # The engine and the scenario model (numpy, pydantic: no Qt) before Qt: once PySide6 is loaded, its
    # import hook reads the source of every module imported after it (about 0.1 s for these 300).
    import sim_core.session  # noqa: F401
    import sim_core.theory.predict  # noqa: F401
    import sim_core.trusted  # noqa: F401

    if os.environ.get("SCALELAB_FIRST_FRAME_PROBE"):
        from app.selftest import install_first_frame_probe

        install_first_frame_probe()
    from app.first_paint import after_first_paint
    from app.windows.main_window import create_app, run_app  # imports Qt only when a window is wanted

    create_app()
    warm_up_after_first_frame()
    after_first_paint(check_default_scenario)
    after_first_paint(gc.enable)
    return run_app(args)


def check_default_scenario() -> None:
    """After the first frame: validate the built-in default scenario the window may have opened without
    validation (``sim_core.trusted``; this also builds pydantic's validators for the first edit). If the
    file is broken, say so and quit with exit code 1, as loading it at start did before."""
    from PySide6.QtWidgets import QApplication

    from sim_core import trusted

    problems = trusted.check_unchecked()
    for problem in problems:
        print(f"scalelab: {problem}", file=sys.stderr)
    if problems:
        QApplication.instance().exit(1)


def warm_up_after_first_frame() -> None:
    """Defer the kernel's warm-up (``Simulation()`` would do it) until a window has painted, then do it.

    If the clock steps before that, the first step loads the kernel itself. The QApplication must exist.
    """
    from app.first_paint import after_first_paint
    from sim_core.engine import kernel

    kernel.defer_warm_up()
    after_first_paint(lambda: kernel.warm_up(now=True))


if __name__ == "__main__":
    sys.exit(main())
