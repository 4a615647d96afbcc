"""One regression test per hostile or careless input found in issue 10: no traceback, no hang,
one printable line per problem naming the field (or the file and line), exit 2, nothing lost."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sim_core.cli import main
from sim_core.scenario_file import builtin_path, load

REPO = Path(__file__).resolve().parent.parent
SCALELAB = [sys.executable, "-c", "import sys; from app.main import main; sys.exit(main())"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv: str) -> list[str]:
    """Run the CLI, expect exit 2 and nothing on stdout; the problem lines, each checked clean."""
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, ""), (code, out, err)
    lines = err.splitlines()
    assert lines and all(line.isprintable() and ": " in line and len(line) <= 400 for line in lines), lines
    return lines


def write(tmp_path: Path, text: str, name: str = "s.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


# --- tracebacks and hangs -------------------------------------------------------------------

def test_an_integer_literal_over_4300_digits_names_its_field(capsys, tmp_path):
    path = write(tmp_path, '{"nodes": [{"name": "a", "cores": 1' + "9" * 5000 + "}]}")
    assert refused(capsys, "validate", str(path)) == [
        "nodes[0].cores: a number of 5001 digits is not a whole number in 1..256"]


@pytest.mark.parametrize("depth", [990, 100_000])
def test_deep_nesting_is_one_line_not_a_recursion_error(capsys, tmp_path, depth):
    path = write(tmp_path, '{"nodes": [{"name": "a"}], "x": ' + "[" * depth + "]" * depth + "}")
    (line,) = refused(capsys, "validate", str(path))
    assert "nested more than 32 levels deep" in line


def test_nesting_just_past_the_limit_is_named_by_its_path(capsys, tmp_path):
    path = write(tmp_path, '{"nodes": [{"name": "a"}], "x": ' + "[" * 40 + "]" * 40 + "}")
    (line,) = refused(capsys, "validate", str(path))
    assert line.startswith("x[0][0]") and "nested more than 32 levels deep" in line


def test_file_names_too_long_for_the_file_system(capsys, tmp_path):
    (line,) = refused(capsys, "validate", "a" * 300)
    assert "File name too long" in line and "(300 characters)" in line
    (line,) = refused(capsys, "validate", "a/" * 3000)
    assert "File name too long" in line
    (line,) = refused(capsys, "run", "vertical-1cpu", "--seconds", "1", "--csv", str(tmp_path / ("b" * 300)))
    assert line.startswith("--csv ") and "too long" in line


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_at_once_not_read_for_ever(capsys, tmp_path, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    assert refused(capsys, "validate", device) == [f"{device}: is a device, not a regular file"]
    link = tmp_path / "zero.json"
    link.symlink_to(device)
    assert refused(capsys, "validate", str(link)) == [f"{link}: is a device, not a regular file"]
    assert refused(capsys, "run", "vertical-1cpu", "--trace", device) == [f"{device}: is a device, not a regular file"]


@pytest.mark.timeout(30)
def test_a_fifo_is_refused_without_waiting_for_a_writer(capsys, tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    assert refused(capsys, "validate", str(fifo)) == [f"{fifo}: is a pipe (FIFO), not a regular file"]
    assert refused(capsys, "run", "vertical-1cpu", "--trace", str(fifo)) == [
        f"{fifo}: is a pipe (FIFO), not a regular file"]


@pytest.mark.parametrize("argv", [["validate", "vertical-2cpu"], ["run", "--list"]])
def test_a_full_stdout_is_one_line_and_exit_2(argv):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        done = subprocess.run([*SCALELAB, *argv], stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO,
                              timeout=120)
    assert done.returncode == 2
    assert done.stderr == "output: cannot be written (No space left on device)\n"


def test_a_trace_field_over_the_csv_limit_names_the_file_and_line(capsys, tmp_path):
    trace = write(tmp_path, "arrival_s,cpu_s\n0.1,0.1\n0.2," + "1" * 200_000 + "\n", "t.csv")
    assert refused(capsys, "run", "vertical-1cpu", "--trace", str(trace)) == [
        f"{trace} line 3: not a CSV line (a value longer than 131072 characters)"]


# --- messages -------------------------------------------------------------------------------

def test_an_unknown_key_named_like_a_shape_kind_keeps_its_name(capsys, tmp_path):
    path = write(tmp_path, '{"nodes":[{"name":"a"}],"workload":{"shape":{"kind":"constant","wave":1}}}')
    assert refused(capsys, "validate", str(path)) == [
        "workload.shape.wave: unknown key (remove it or check its spelling)"]


def test_a_lone_surrogate_key_hides_no_other_problem(capsys, tmp_path):
    path = write(tmp_path, '{"nodes":[{"name":"a","\\ud800":1,"y":-5e9}]}')
    assert sorted(refused(capsys, "validate", str(path))) == [
        "nodes[0].\\ud800: unknown key (remove it or check its spelling)",
        "nodes[0].y: -5e+09 is not in -1000000..1000000",
    ]


def test_every_event_naming_a_missing_node_is_reported(capsys, tmp_path):
    events = [{"at_s": 1, "action": "fail", "node": "x"}, {"at_s": 2, "action": "recover", "node": "y"}]
    path = write(tmp_path, json.dumps({"nodes": [{"name": "a"}], "events": events}))
    assert refused(capsys, "validate", str(path)) == [
        "events[0].node: 'x' is not the name of a node at 1 s", "events[1].node: 'y' is not the name of a node at 2 s"]


def test_the_events_range_is_the_readmes_0_to_10000(capsys, tmp_path):
    events = [{"at_s": 1, "action": "fail", "node": "a"}] * 10_001
    path = write(tmp_path, json.dumps({"nodes": [{"name": "a"}], "events": events}))
    assert refused(capsys, "validate", str(path)) == [
        "events: 10001 events is not in 0..10000 (too large for this machine)"]


def test_control_characters_are_escaped_and_long_keys_cut_one_problem_one_line(capsys, tmp_path):
    data = {"nodes": [{"name": "a"}], "k\x1b[2J\nx\x00": 1, "z" * 100_000: 2}
    path = write(tmp_path, json.dumps(data))
    lines = refused(capsys, "validate", str(path))
    assert lines == ["k\\x1b[2J\\x0ax\\x00: unknown key (remove it or check its spelling)",
                     "z" * 30 + "... (100000 characters): unknown key (remove it or check its spelling)"]


def test_a_scenario_name_cannot_drive_the_terminal(capsys, tmp_path):
    path = write(tmp_path, json.dumps({"name": "\x1b[2Jhi\u202e", "nodes": [{"name": "a"}]}))
    code, out, err = run_cli(capsys, "validate", str(path))
    assert (code, out, err) == (0, "ok: \\x1b[2Jhi\\u202e (1 node)\n", "")


def test_a_fractional_trace_node_is_refused_naming_file_and_line(capsys, tmp_path):
    trace = write(tmp_path, "arrival_s,node\n0.1,0\n0.1,1.7\n", "t.csv")
    assert refused(capsys, "run", "vertical-1cpu", "--trace", str(trace)) == [
        f"{trace} line 3: node 1.7 is not a whole number in 0..1e+06"]


def test_a_trace_node_out_of_the_cluster_names_file_and_line(capsys, tmp_path):
    trace = write(tmp_path, "arrival_s,node\n0.1,0\n# a comment\n0.2,7\n", "t.csv")
    assert refused(capsys, "run", "vertical-1cpu", "--trace", str(trace)) == [
        f"{trace} line 4: node 7 is not in 0..0 (the scenario has 1 node)"]


def test_a_decreasing_trace_names_the_line(capsys, tmp_path):
    trace = write(tmp_path, "0.5\n0.2\n", "t.csv")
    (line,) = refused(capsys, "run", "vertical-1cpu", "--trace", str(trace))
    assert line.startswith(f"{trace} line 2: arrival_s 0.2 is earlier than the request above it")


# --- files ----------------------------------------------------------------------------------

def scenario_copy(tmp_path: Path, name: str = "s.json") -> Path:
    path = tmp_path / name
    path.write_bytes(builtin_path("vertical-1cpu").read_bytes())
    return path


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(capsys, tmp_path):
    scenario = scenario_copy(tmp_path)
    before = scenario.read_bytes()
    link = tmp_path / "link.json"
    link.symlink_to(scenario)
    trace = write(tmp_path, "0.1\n", "t.csv")
    for argv in (["run", str(scenario), "--csv", str(scenario)],
                 ["run", str(link), "--csv", str(tmp_path / "." / "s.json")],
                 ["run", str(scenario), "--trace", str(trace), "--csv", str(trace)]):
        (line,) = refused(capsys, *argv, "--seconds", "1")
        assert line.endswith(": is an input of this run; write the output to another file")
    assert scenario.read_bytes() == before and link.is_symlink() and trace.read_text() == "0.1\n"


def test_a_device_or_fifo_target_is_refused_and_left_alone(capsys, tmp_path):
    (line,) = refused(capsys, "run", "vertical-1cpu", "--seconds", "1", "--csv", os.devnull)
    assert line == f"--csv {os.devnull}: is a device, not a regular file"
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    (line,) = refused(capsys, "run", "vertical-1cpu", "--seconds", "1", "--csv", str(fifo))
    assert line.endswith("is a pipe (FIFO), not a regular file") and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_saving_keeps_the_targets_mode_and_new_files_get_the_umask_default(capsys, tmp_path):
    from sim_core.scenario_file import save

    scenario = load(builtin_path("vertical-1cpu"))
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o644)
    save(scenario, kept)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o644 and load(kept) == scenario
    out_csv = tmp_path / "series.csv"
    out_csv.write_text("old\n")
    out_csv.chmod(0o640)
    assert run_cli(capsys, "run", "vertical-1cpu", "--seconds", "1", "--csv", str(out_csv))[0] == 0
    assert stat.S_IMODE(out_csv.stat().st_mode) == 0o640 and out_csv.read_text().startswith("t_s,")
    old_umask = os.umask(0o027)
    try:
        save(scenario, tmp_path / "new.json")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_saving_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    from sim_core.scenario_file import save

    scenario = load(builtin_path("vertical-1cpu"))
    real = tmp_path / "real" / "s.json"
    real.parent.mkdir()
    real.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    save(scenario, link)
    assert link.is_symlink() and load(real) == scenario
    assert sorted(p.name for p in real.parent.iterdir()) == ["s.json"]


WRITER = """
import sys, time
from sim_core.safe_io import atomic_writer
with atomic_writer(sys.argv[1]) as handle:
    handle.write("half a file" * 1000)
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_sigterm_mid_save_removes_the_temporary_file_and_keeps_the_old_one(tmp_path):
    import signal

    target = tmp_path / "s.json"
    target.write_text("old\n")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO)
    assert writer.stdout.readline() == "writing\n"
    assert len(list(tmp_path.iterdir())) == 2  # the target and the temporary file
    writer.send_signal(signal.SIGTERM)
    assert writer.wait(timeout=30) == -signal.SIGTERM  # still ends as SIGTERM says
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"] and target.read_text() == "old\n"


def test_stale_temporary_files_of_a_killed_save_go_on_the_next_save(tmp_path):
    import signal

    from sim_core.scenario_file import save

    target = tmp_path / "s.json"
    target.write_text("old\n")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO)
    assert writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGKILL)  # no handler runs: its temporary file stays behind
    writer.wait(timeout=30)
    other = tmp_path / ".notes.txt.tmp"  # not ours: left alone
    other.write_text("x")
    assert len(list(tmp_path.iterdir())) == 3
    save(load(builtin_path("vertical-1cpu")), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.txt.tmp", "s.json"]


def test_the_window_saves_as_the_cli_does_through_links_keeping_modes_refusing_devices(qtbot, qt_settings, tmp_path):
    from app.windows.main_window import MainWindow

    win = MainWindow(load(builtin_path("vertical-1cpu")), None, qt_settings, tmp_path / "autosave")
    qtbot.addWidget(win)
    real = tmp_path / "real.json"
    real.write_text("{}")
    real.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert win.save_to(link)
    assert link.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o644 and load(real).name == "vertical-1cpu"
    errors = []
    win.show_error = lambda title, text: errors.append(text)
    assert not win.export_csv(Path(os.devnull))
    assert errors == [f"{os.devnull}: is a device, not a regular file"]
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
