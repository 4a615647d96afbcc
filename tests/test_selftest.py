"""``scalelab --selftest`` from source: every check passes here, and a missing piece fails it with exit 1."""

from __future__ import annotations

from app import selftest


def test_selftest_passes_from_source_and_names_the_kernel(qapp, capsys):
    assert selftest.main([]) == 0
    out = capsys.readouterr().out
    for check in ("scenarios", "Qt and the UI load", "fonts", "main window paints", "kernel",
                  "simulated time advances", "kiosk window opens"):
        assert f"ok   {check}: " in out
    assert any(form in out for form in ("compiled ahead of time", "numba JIT", "pure Python"))
    assert out.rstrip().splitlines()[-1].startswith("selftest passed (from source): 7 checks")


def test_selftest_fails_when_the_scenarios_are_missing(qapp, capsys, tmp_path, monkeypatch):
    import sim_core.scenario_file

    monkeypatch.setattr(sim_core.scenario_file, "BUILTIN_DIR", tmp_path)  # a bundle built without its data
    assert selftest.main([]) == 1
    out = capsys.readouterr().out
    assert "FAIL scenarios: RuntimeError: default scenario" in out
    assert out.rstrip().splitlines()[-1].startswith("selftest FAILED (from source)")


def test_the_command_dispatches_to_the_selftest(monkeypatch):
    from app import main as entry

    monkeypatch.setattr(selftest, "main", lambda args: 7)
    assert entry.main(["--selftest"]) == 7
