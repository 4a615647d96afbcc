"""The goals panel and the result card show the judge's verdicts as they are."""

from __future__ import annotations

from sim_core.challenge import FAILED, MET, PENDING, Judge
from sim_core.engine.scaling import ScalingSimulation
from sim_core.scenario_file import resolve


def test_goals_panel_follows_the_live_verdicts_and_hides_without_goals(qtbot):
    from app.panels.goals import BADGE, GoalsPanel

    panel = GoalsPanel()
    qtbot.addWidget(panel)
    panel.set_challenge(resolve("horizontal-7x1"))
    assert panel.isHidden() and panel.rows == []
    challenge = resolve("challenge-1-absorb-120")
    panel.set_challenge(challenge)
    assert not panel.isHidden() and len(panel.rows) == len(challenge.goals.targets)
    sim = ScalingSimulation(challenge)
    judge = sim.judge
    for _snap in sim.run(5.0, dt=0.5):
        pass
    panel.show_verdicts(judge.verdicts())
    assert panel.statuses() == [PENDING, FAILED, PENDING]  # one server rejects at once; the rest wait
    assert panel.rows[1].badge.text() == BADGE[FAILED][0]
    assert panel.rows[1].figure.text() == judge.verdicts()[1].figure() != "-"
    assert panel.summary.text() == "0 of 3 met, 1 failed"


def test_result_card_says_whether_the_challenge_is_met(qtbot):
    from app.panels.goals import ResultCard

    card = ResultCard(touch=True)
    qtbot.addWidget(card)
    challenge = resolve("challenge-4-memory-burst")
    judge = Judge(challenge.goals, challenge.duration_s)
    sim = ScalingSimulation(challenge)
    sim.observers.append(judge.add)
    for _ in sim.run(challenge.duration_s, dt=1.0):
        pass
    card.show_result(challenge.name, judge.verdicts())
    assert not card.isHidden()
    assert card.headline.text() == "Not yet" and not card.passed
    assert [row.status for row in card.rows] == [FAILED, MET, MET]
    with qtbot.waitSignal(card.try_again):
        card.again.click()
    card.close_button.click()
    assert card.isHidden()


def test_the_dock_follows_a_run_to_its_result_card_and_back_when_scrubbed(qtbot):
    from PySide6.QtWidgets import QMainWindow

    from app.panels.challenge_dock import ChallengeDock
    from sim_core.session import Session

    host = QMainWindow()
    qtbot.addWidget(host)
    host.resize(1200, 800)
    session = Session(resolve("challenge-3-survive-failures"))
    dock = ChallengeDock(host, lambda: session.sim.judge, lambda: session.scenario, session.run_scenario,
                         lambda: session.sim.seed)
    host.show()
    assert not dock.isHidden() and dock.panel.statuses() == [PENDING, PENDING]
    while session.t < 150.0 - 1e-9:
        session.advance(2.0, 4)
        dock.refresh()
    dock.wait()
    assert dock.card.isVisible() and dock.card.headline.text() == "Not yet"
    assert dock.panel.statuses() == [FAILED, FAILED]  # five servers and a 3 s health check do not survive
    assert "failed" in dock.card.rows[0].text.text()  # which node's failure was the worst
    session.jump(100.0)
    dock.refresh()
    assert not dock.card.isVisible() and dock.panel.statuses()[0] == PENDING
    dock.shutdown()
