"""The ``scalelab`` command: ``run``/``validate`` stay headless; anything else opens the window."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``scalelab [run|validate] ...`` to the CLI, otherwise start the window."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("run", "validate"):
        from sim_core.cli import main as cli_main

        return cli_main(args)
    from app.window import run_app  # imports Qt only when a window is wanted

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
