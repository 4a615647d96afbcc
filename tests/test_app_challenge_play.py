"""Playing a challenge with the large buttons: only allowed changes, live goals, a result at the end."""

from __future__ import annotations

from app.screen import TOUCH_TARGET_MM, px_per_mm
from sim_core.challenge import FAILED, MET


def test_play_a_challenge_to_its_solution_with_the_buttons(qtbot):
    from app.windows.challenge_play import ChallengePlay, challenge_names

    play = ChallengePlay(touch=True, speed=50.0)
    qtbot.addWidget(play)
    assert [name for name, _ in play.pick_buttons] == challenge_names()
    play.load("challenge-4-memory-burst")  # nodes and resize allowed, not the policy
    assert play.add_button.isEnabled() and play.bigger_button.isEnabled()
    assert not play.policy_button.isEnabled() and not play.auto_button.isEnabled()
    play.bigger_servers()  # the 4-CPU server is at the top of the ladder: back to 1 CPU
    assert play.setup.nodes[0].cores == 1
    for _ in range(6):
        play.add_server()
    assert len(play.setup.nodes) == 7 and play.problems() == [] and play.run_button.isEnabled()
    assert play.play_to_end() == [MET, MET, MET]
    assert play.result.passed and play.result.headline.text() == "Challenge met!"
    assert play.goals.statuses() == [MET, MET, MET]


def test_a_setup_over_budget_cannot_run_and_the_start_fails(qtbot):
    from app.windows.challenge_play import ChallengePlay

    play = ChallengePlay(touch=False, speed=50.0)
    qtbot.addWidget(play)
    play.load("challenge-4-memory-burst")
    play.add_server()  # two 4-CPU servers: 0.0928 $/h, over the 0.0812 budget
    assert not play.run_button.isEnabled() and "budget" in play.setup_line.text()
    play.remove_server()
    assert play.run_button.isEnabled()
    assert FAILED in play.play_to_end()  # the starting cluster rejects part of the burst
    assert not play.result.passed
    play.result.again.click()
    assert play.ctrl is None and play.result.isHidden() and play.add_button.isEnabled()


def test_the_kiosk_plays_challenges_and_idle_returns_to_the_lessons(qtbot):
    from PySide6.QtCore import Qt

    from app.windows.kiosk import KioskWindow

    kiosk = KioskWindow()
    qtbot.addWidget(kiosk)
    kiosk.show()
    try:
        # a fingertip (9 mm) at the screen's density, as the kiosk's other buttons
        assert kiosk.challenges_button.height() >= TOUCH_TARGET_MM * px_per_mm(kiosk.screen()) - 0.5
        qtbot.mouseClick(kiosk.challenges_button, Qt.MouseButton.LeftButton)
        assert kiosk.challenge_page is not None and kiosk.challenge_page.isVisible() and not kiosk.touring
        assert kiosk.challenge_page.geometry() == kiosk.rect() and not kiosk.clock.running
        qtbot.mouseClick(kiosk.challenge_page.add_button, Qt.MouseButton.LeftButton)  # a visitor's tap counts as input
        t0 = kiosk.last_input
        assert len(kiosk.challenge_page.setup.nodes) == 2
        kiosk.check_idle(t0 + kiosk.idle_s)
        assert kiosk.touring and not kiosk.challenge_page.isVisible() and kiosk.lesson_index == 0
        assert len(kiosk.challenge_page.setup.nodes) == 1  # the next visitor starts from the challenge as given
    finally:
        kiosk.staff_exit()
