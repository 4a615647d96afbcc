"""The ``scalelab`` command: ``run``/``validate`` stay headless; ``--selftest`` checks the install;
anything else opens the window.

Start-up order matters for the first frame (goal: under 1 s): nothing here imports Qt, numba or
the engine before it is needed, and the kernel (``sim_core.kernel``) loads at the first simulation
step, after the window has painted.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``scalelab [run|validate|--selftest] ...``; otherwise start the window. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("run", "validate"):
        from sim_core.cli import main as cli_main

        return cli_main(args)
    if args and args[0] == "--selftest":
        from app.selftest import main as selftest

        return selftest(args[1:])
    if os.environ.get("SCALELAB_FIRST_FRAME_PROBE"):
        from app.selftest import install_first_frame_probe

        install_first_frame_probe()
    from app.window import run_app  # imports Qt only when a window is wanted

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
