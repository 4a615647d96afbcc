"""The "Theory" panel: the model and its formula, measured vs predicted with bands, availability
in nines, and the N-1 check with its progress and verdict. Reads only an ``Explainer``."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.explain import Explainer
from sim_core.theory import n_minus_one
from sim_core.theory.availability import format_duration


def ms(seconds: float) -> str:
    """``0.2175`` -> ``218 ms``, ``1.0015`` -> ``1.00 s``, ``25.4`` -> ``25.4 s``; ``-`` for NaN."""
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds < 1.0:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.2f} s" if seconds < 10.0 else f"{seconds:.3g} s"


def plus_minus(value: float, half: float, fmt=ms) -> str:
    if math.isnan(value):
        return "-"
    return fmt(value) + ("" if math.isnan(half) else f" ± {fmt(half)}")


def percent(share: float, digits: int = 3) -> str:
    """``0.99961`` -> ``99.961%`` (``digits`` significant); tiny shares read ``< 0.001%``."""
    if share is None or math.isnan(share):
        return "-"
    if 0 < share < 1e-5:
        return "< 0.001%"
    return f"{100 * share:.{digits}g}%"


def _label(text: str = "", mono: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if mono:
        label.setStyleSheet("font-family: monospace;")
    return label


class ExplainPanel(QScrollArea):
    """Theory, availability and N-1 for the running cluster; ``texts`` holds what each label shows."""

    def __init__(self, explainer: Explainer, parent: QWidget | None = None):
        super().__init__(parent)
        self.ex = explainer
        self.setWidgetResizable(True)
        body = QWidget()
        column = QVBoxLayout(body)
        self.setWidget(body)

        theory_box = QGroupBox("Theory")
        form = QVBoxLayout(theory_box)
        self.model = _label()
        self.model.setStyleSheet("font-weight: 600; font-size: 11pt;")
        self.formula = _label(mono=True)
        self.assumptions = _label()
        self.assumptions.setStyleSheet("color: #5b6775;")
        figures = QFormLayout()
        self.mean = _label()
        self.p99 = _label()
        self.rejected = _label()
        figures.addRow("mean (last 10 s)", self.mean)
        figures.addRow("p99 (last 10 s)", self.p99)
        figures.addRow("rejected", self.rejected)
        self.band_note = _label("± is the 95% band: if the run were repeated, 95 of 100 such bands would hold the "
                                "true long-run value; wiggles inside it are noise.")
        self.band_note.setStyleSheet("color: #5b6775; font-size: 8pt;")
        for widget in (self.model, self.formula, self.assumptions):
            form.addWidget(widget)
        form.addLayout(figures)
        form.addWidget(self.band_note)
        column.addWidget(theory_box)

        avail_box = QGroupBox("Availability")
        avail = QFormLayout(avail_box)
        self.node_avail = _label()
        self.cluster_avail = _label()
        self.measured_avail = _label()
        self.blast = _label()
        avail.addRow("per node", self.node_avail)
        avail.addRow("cluster", self.cluster_avail)
        avail.addRow("measured", self.measured_avail)
        avail.addRow("blast radius", self.blast)
        column.addWidget(avail_box)

        n1_box = QGroupBox("Can I lose any one node? (N-1)")
        n1 = QVBoxLayout(n1_box)
        row = QHBoxLayout()
        self.n1_check = QCheckBox("Check N-1")
        self.n1_check.setToolTip("For each node: fork the run, fail that node, simulate the next 60 s")
        self.target = QDoubleSpinBox()
        self.target.setRange(0.0, 600.0)  # 0 shows "default"
        self.target.setDecimals(2)
        self.target.setSuffix(" s")
        self.target.setSpecialValueText("default")
        self.target.setValue(explainer.target_p99_s or 0.0)
        self.target.setAccessibleName("p99 target")
        self.target.setToolTip(
            "The p99 each fork must keep over the next 60 s. Default: the scenario's own p99 goal, or else "
            f"{n_minus_one.HEALTHY_FACTOR:g} x the p99 of the same 60 s with every node up (the same requests)")
        row.addWidget(self.n1_check)
        row.addWidget(QLabel("p99 target"))
        row.addWidget(self.target)
        row.addStretch(1)
        n1.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.verdict = _label()
        n1.addWidget(self.progress)
        n1.addWidget(self.verdict)
        column.addWidget(n1_box)
        column.addStretch(1)

        self.texts: dict[str, str] = {}
        self.n1_check.toggled.connect(lambda on: explainer.set_n1(on, self.target_s()))
        self.target.valueChanged.connect(self._target_changed)
        explainer.changed.connect(self.refresh)
        explainer.n1_progress.connect(self._progress)
        explainer.n1_finished.connect(lambda _r: self.refresh())
        self.refresh()

    def target_s(self) -> float | None:
        """The p99 target the box sets (s), or None for the default."""
        value = self.target.value()
        return None if value == self.target.minimum() else value

    def _target_changed(self, _value: float) -> None:
        if self.ex.n1_enabled:
            self.ex.set_n1(True, self.target_s())
        else:
            self.ex.target_p99_s = self.target_s()

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"checking node {min(done + 1, total)} of {total}")
        self.progress.setVisible(done < total)

    def _set(self, key: str, label: QLabel, text: str) -> None:
        self.texts[key] = text
        if label.text() != text:
            label.setText(text)

    def refresh(self) -> None:
        ex = self.ex
        pred = ex.prediction
        bands = ex.bands
        if pred is None or not pred.applies:
            self._set("model", self.model, "No closed form")
            self._set("formula", self.formula, "" if pred is None else pred.reason)
            self._set("assumptions", self.assumptions, "")
        else:
            self._set("model", self.model, f"{pred.model} ({pred.kind})")
            self._set("formula", self.formula, pred.formula)
            self._set("assumptions", self.assumptions, "Assumes: " + "; ".join(pred.assumptions) + ".")
        theory_mean = pred.mean_s if pred is not None and pred.applies else math.nan
        theory_p99 = pred.p99_s if pred is not None and pred.applies else math.nan
        self._set("mean", self.mean, f"{plus_minus(bands.mean.value, bands.mean.half_width)}, theory "
                  f"{ms(theory_mean)}")
        self._set("p99", self.p99, f"{plus_minus(bands.p99.value, bands.p99.half_width)}, theory {ms(theory_p99)}")
        rejection = pred.rejection if pred is not None and pred.applies else math.nan
        self._set("rejected", self.rejected, f"theory {percent(rejection)}")
        report = ex.report
        if report is None:
            self._set("node_avail", self.node_avail, "no random failures (give nodes mtbf_s and mttr_s)")
            for key, label in (("cluster_avail", self.cluster_avail), ("measured_avail", self.measured_avail),
                               ("blast", self.blast)):
                self._set(key, label, "-")
        else:
            worst = int(report.blast_share.argmax())
            need = f"{report.k} of {report.n} up" if report.k else "enough capacity up"
            self._set("node_avail", self.node_avail, f"{percent(float(report.node.min()), 4)} "
                      "(MTBF / (MTBF + MTTR + restart))")
            self._set("cluster_avail", self.cluster_avail,
                      f"{percent(report.cluster, 5)}: {report.nines:.2f} nines, {need}, down "
                      f"{format_duration(report.downtime_per_year_s)} per year")
            self._set("measured_avail", self.measured_avail,
                      f"{percent(ex.measured_availability, 5)} of {ex.observed_s:.0f} s; window "
                      f"{plus_minus(bands.availability.value, bands.availability.half_width, percent)}")
            self._set("blast", self.blast, f"{report.names[worst]}: {100 * report.blast_share[worst]:.0f}% of "
                      f"capacity, about {report.lost_per_failure[worst]:.3g} requests lost per failure")
        if not ex.n1_enabled:
            text = ("Off. Turn it on to fail each node in a copy of the run and look 60 s ahead. p99 target: "
                    + ("the default (the scenario's p99 goal, or else "
                       f"{n_minus_one.HEALTHY_FACTOR:g} x the p99 with every node up)"
                       if ex.target_p99_s is None else f"{ex.target_p99_s:g} s"))
        elif ex.n1_result is None:
            text = "Checking..."
        else:
            text = ex.n1_result.verdict() + (" (updating...)" if ex.n1_running else "")
        self._set("verdict", self.verdict, text)
        if not ex.n1_running:
            self.progress.hide()
