"""Kiosk mode: the flag, the lesson tour, visitors, idle reset, the staff exit, and a long soak run."""

from __future__ import annotations

import gc
from collections import Counter

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QDialog, QMenuBar

from app.autosave import Autosaver
from app.canvas.items import NodeItem
from app.controller import SimController
from app.main import main
from app.screen import TOUCH_TARGET_MM, px_per_mm
from app.windows.compare import LESSONS, lesson_pair
from app.windows.kiosk import CAPTIONS, UNDO_LIMIT, KioskWindow, start_kiosk
from sim_core.engine.simulation import Simulation
from sim_core.engine.state import DOWN, UP, Snapshot

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def kiosk(qtbot):
    window = KioskWindow()
    qtbot.addWidget(window)
    window.show()
    window.clock.set_running(False)  # the tests tick it themselves
    window.clock.set_speed(100.0)  # 10 simulated seconds per 0.1 s tick
    yield window
    window.staff_exit()


def run_lesson(kiosk: KioskWindow, max_ticks: int = 200) -> float:
    """Tick until the tour moves to another lesson; returns the simulated time the lesson reached."""
    index = kiosk.lesson_index
    for _ in range(max_ticks):
        reached = kiosk.horizontal.t
        kiosk.clock.tick(0.1)
        if kiosk.lesson_index != index:
            return reached
    raise AssertionError(f"lesson {index} did not end after {max_ticks} ticks")


def tap_node(qtbot, kiosk: KioskWindow, side: int, k: int) -> NodeItem:
    view = kiosk.sides[side].view
    item = kiosk.sides[side].scene.node_items()[k]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(item.pos()))
    return item


def test_the_flag_opens_the_kiosk_fullscreen_without_menus_or_files(qtbot, qt_settings, monkeypatch):
    opened = []

    def fake_exec(*_args):
        opened.extend(w for w in QApplication.topLevelWidgets() if w.isVisible())
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert main(["--kiosk"]) == 0
    [window] = opened
    try:
        assert isinstance(window, KioskWindow)
        assert window.isFullScreen()
        assert window.clock.running and window.touring
        assert not window.findChildren(QMenuBar) and not window.actions()
        assert not window.findChildren(Autosaver)  # nothing to restore after a power cut, no prompt
    finally:
        window.staff_exit()
    assert not window.isVisible()


@pytest.mark.parametrize("build", ["constructor", "start_kiosk"])
def test_a_kiosk_built_directly_runs_at_once(qtbot, build):
    window = start_kiosk([]) if build == "start_kiosk" else KioskWindow()
    qtbot.addWidget(window)
    try:
        assert window.clock.running and window.touring
        qtbot.waitUntil(lambda: window.horizontal.t > 0 and window.vertical.t > 0, timeout=5000)
    finally:
        window.staff_exit()


def test_the_kiosk_takes_no_scenario_or_unknown_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--kiosk", "my-cluster.json"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: my-cluster.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--kiosk", "--idle-seconds", "1"])
    assert "--idle-seconds: 1 is not in 10..3600" in capsys.readouterr().err


def test_the_tour_plays_every_lesson_for_its_duration_and_starts_over(kiosk):
    assert kiosk.lesson_index == 0 and kiosk.title.text() == LESSONS[0][0]
    for k, (title, vertical_name, horizontal_name) in enumerate(LESSONS):
        assert kiosk.lesson_index == k
        assert kiosk.title.text() == title
        assert kiosk.caption.text() == CAPTIONS[(vertical_name, horizontal_name)]
        assert kiosk.buttons.checkedId() == k
        duration = lesson_pair(vertical_name, horizontal_name)[1].duration_s
        assert kiosk.lesson_s == duration
        reached = run_lesson(kiosk)
        assert reached >= duration  # the lesson ran its whole duration
        assert reached < duration + 10.5  # and moved on at the next tick
        assert kiosk.horizontal.t <= 10.5  # the next lesson starts from t = 0
    assert kiosk.lesson_index == 0
    assert kiosk.status.text().startswith(f"Lesson 1 of {len(LESSONS)}")


def test_a_tap_fails_a_node_and_pauses_the_tour_until_idle(qtbot, kiosk):
    kiosk.clock.tick(0.1)
    item = tap_node(qtbot, kiosk, 1, 2)
    horizontal = kiosk.horizontal
    assert horizontal.node_state(item.node_id) == DOWN
    assert not kiosk.touring
    assert not item.flags() & item.GraphicsItemFlag.ItemIsMovable  # a finger's wobble cannot drag it
    for _ in range(20):  # 200 s: well past the lesson's 60 s, the lesson stays
        kiosk.clock.tick(0.1)
    assert kiosk.lesson_index == 0 and horizontal.t > kiosk.lesson_s
    assert "tour resumes" in kiosk.status.text()
    tap_node(qtbot, kiosk, 1, 2)
    assert horizontal.node_state(item.node_id) != DOWN  # tapped again: recovering
    assert horizontal.undo_stack.count() == 0  # taps are not edits
    # idle: not yet at idle_s - 1, then back to the tour from the first lesson, every node up
    assert not kiosk.check_idle(kiosk.last_input + kiosk.idle_s - 1)
    assert not kiosk.touring
    assert kiosk.check_idle(kiosk.last_input + kiosk.idle_s)
    assert kiosk.touring and kiosk.lesson_index == 0
    assert horizontal.t == 0.0 and (horizontal.session.sim.node_state == UP).all()


def test_a_lesson_button_shows_that_lesson_and_idle_returns_to_the_tour(qtbot, kiosk):
    button = kiosk.buttons.button(3)
    assert button.height() >= TOUCH_TARGET_MM * px_per_mm(kiosk.screen()) - 0.5  # a fingertip, at any density
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert kiosk.lesson_index == 3 and not kiosk.touring
    assert kiosk.title.text() == LESSONS[3][0]
    run_for = 2 * kiosk.lesson_s
    while kiosk.horizontal.t < run_for:
        kiosk.clock.tick(0.1)
    assert kiosk.lesson_index == 3  # a visitor's lesson does not move on
    kiosk.check_idle(kiosk.last_input + kiosk.idle_s)
    assert kiosk.touring and kiosk.lesson_index == 0 and kiosk.buttons.checkedId() == 0
    run_lesson(kiosk)
    assert kiosk.lesson_index == 1  # the tour moves on again


def test_only_the_staff_chord_closes_it_and_no_dialog_ever_opens(qtbot, kiosk):
    tap_node(qtbot, kiosk, 0, 0)  # something changed: a desktop window would ask to save
    assert not kiosk.close()  # the window manager, Alt+F4
    for key, modifiers in ((Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier),
                           (Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier),
                           (Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier),
                           (Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier),
                           (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier),
                           (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier)):
        qtbot.keyClick(kiosk.sides[0].view, key, modifiers)
    assert kiosk.isVisible()
    assert QApplication.activeModalWidget() is None
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]
    qtbot.keyClick(kiosk.sides[1].view, Qt.Key.Key_Q, CTRL_SHIFT)
    assert not kiosk.isVisible() and not kiosk.clock.running  # closed without a question


def live_objects() -> Counter:
    """Counts of the Python objects the kiosk makes per lesson, by type name."""
    gc.collect()
    watched = (SimController, Simulation, Snapshot, NodeItem)
    return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, watched))


def structure_sizes(kiosk: KioskWindow) -> dict[str, int]:
    sizes = {}
    for k, (side, ctrl) in enumerate(zip(kiosk.sides, (kiosk.vertical, kiosk.horizontal), strict=True)):
        sizes[f"scene items {k}"] = len(side.scene.items())
        sizes[f"dots {k}"] = int(side.scene.flow.dot_link.size)
        sizes[f"undo {k}"] = ctrl.undo_stack.count()
        sizes[f"history {k}"] = ctrl.history.size
        sizes[f"in system {k}"] = ctrl.session.sim.state.in_system
    return sizes


def test_soak_many_tours_with_visitors_stays_bounded(qtbot, kiosk):
    """Thirty tours, each with a visitor who taps, stays ten minutes, drags, and walks off."""
    capacity = kiosk.horizontal.history.capacity
    baseline = None
    for tour in range(30):
        assert kiosk.touring and kiosk.lesson_index == 0
        for _ in LESSONS:
            run_lesson(kiosk)
        # a visitor: picks the fault-tolerance lesson, taps servers, drags one, stays a long time
        qtbot.mouseClick(kiosk.buttons.button(3), Qt.MouseButton.LeftButton)
        tap_node(qtbot, kiosk, 1, tour % 7)
        tap_node(qtbot, kiosk, 0, 0)
        view = kiosk.sides[1].view
        start = view.mapFromScene(kiosk.sides[1].scene.node_items()[0].pos())
        qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(view.viewport(), start + QPoint(60, 40))
        qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(60, 40))
        if tour in (2, 29):  # long enough to wrap the history rings: 600 s in 0.05 s steps
            for _ in range(120):
                kiosk.vertical.advance(5.0, 100)
                kiosk.horizontal.advance(5.0, 100)
        for _ in range(10):
            kiosk.clock.tick(0.1)
        sizes = structure_sizes(kiosk)
        assert sizes["undo 0"] == sizes["undo 1"] == 0  # a drag moved nothing: nodes are pinned
        assert max(sizes["history 0"], sizes["history 1"]) <= capacity
        assert kiosk.lesson_index == 3 and not kiosk.touring
        assert kiosk.check_idle(kiosk.last_input + kiosk.idle_s)
        if tour == 2:
            assert sizes["history 1"] == capacity  # the ring did wrap
            baseline = (structure_sizes(kiosk), live_objects(), len(gc.get_objects()))
    assert kiosk.vertical.undo_stack.undoLimit() == UNDO_LIMIT
    sizes, objects, total = structure_sizes(kiosk), live_objects(), len(gc.get_objects())
    assert sizes == baseline[0]  # the same lesson at t = 0: the same items, empty engines
    assert objects == baseline[1]
    assert total < baseline[2] * 1.01 + 500
