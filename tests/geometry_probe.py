"""Open every ScaleLab window on a fake screen of a given size and report what does not fit.

Run in its own process (the screen size is fixed when Qt starts):

    python tests/geometry_probe.py WIDTH HEIGHT [--shots FOLDER]

Prints one JSON object: {"problems": [...], "figures": {...}}. A problem is a visible widget
outside the screen or its window, two readout labels that overlap, a label or chart title
cut short, charts wider than their panel (titles cut at its edge), compact server boxes whose
labels are under 8 px at fit, a chart shorter than 120 px, a kiosk touch target (button or server box) under 9 mm, a
kiosk canvas under a third of the screen's height, or a server name there smaller than its labels.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(width: int, height: int) -> None:
    config = Path(tempfile.mkdtemp()) / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "probe", "x": 0, "y": 0, "width": width, "height": height,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def main() -> int:
    width, height = int(sys.argv[1]), int(sys.argv[2])
    shots = Path(sys.argv[sys.argv.index("--shots") + 1]) if "--shots" in sys.argv else None
    configure(width, height)
    from PySide6.QtCore import QRect, QSettings
    from PySide6.QtWidgets import QAbstractScrollArea, QLabel, QPushButton, QWidget

    from app.canvas.cluster_view import ClusterView
    from app.canvas.items import LEGIBLE_PX
    from app.screen import TOUCH_TARGET_MM, px_per_mm
    from app.windows.compare import CompareWindow
    from app.windows.kiosk import KioskWindow
    from app.windows.main_window import MainWindow, create_app
    from benchmarks.ui import big_scenario
    from sim_core.scenario_file import resolve

    app = create_app()
    screen = app.primaryScreen().availableGeometry()
    problems: list[str] = []
    figures: dict[str, object] = {}

    def global_rect(w: QWidget) -> QRect:
        return QRect(w.mapToGlobal(w.rect().topLeft()), w.size())

    def scrolled(w: QWidget) -> bool:
        """Inside a scroll area's viewport: it may lie beyond the visible part by design."""
        p = w.parentWidget()
        while p is not None:
            if isinstance(p.parentWidget(), QAbstractScrollArea) and p is p.parentWidget().viewport():
                return True
            p = p.parentWidget()
        return False

    def check(name: str, window: QWidget) -> None:
        for _ in range(5):
            app.processEvents()
        frame = window.frameGeometry()
        if not screen.contains(frame):
            problems.append(f"{name}: window {frame.getRect()} is not inside the screen {screen.getRect()}")
        inner = global_rect(window)
        for w in window.findChildren(QWidget):
            if not w.isVisible() or w.isWindow() or scrolled(w) or w.width() == 0:
                continue
            r = global_rect(w)
            if not inner.contains(r) or not screen.contains(r):
                problems.append(f"{name}: {type(w).__name__} '{w.objectName() or w.accessibleName()}' "
                                f"{r.getRect()} lies outside the window {inner.getRect()}")
            if isinstance(w, QLabel) and not w.wordWrap() and w.text() and not w.text().startswith("<"):
                if w.sizeHint().width() > w.width() + 1:
                    problems.append(f"{name}: label '{w.text()[:30]}' is cut ({w.width()} < {w.sizeHint().width()})")
        for k, readout in enumerate(window.findChildren(QWidget, "readout")):
            labels = [lab for lab in readout.findChildren(QLabel) if lab.isVisible()]
            for a, b in itertools.combinations(labels, 2):
                if global_rect(a).intersects(global_rect(b)):
                    problems.append(f"{name}: readout {k} labels '{a.text()}' and '{b.text()}' overlap")
            others = [v for v in window.findChildren(QAbstractScrollArea) if v.isVisible()]
            for lab, view in itertools.product(labels, others):
                if global_rect(lab).intersects(global_rect(view)):
                    problems.append(f"{name}: readout label '{lab.text()}' overlaps a {type(view).__name__}")
        for chart in window.findChildren(QWidget, "charts"):
            area = chart.parentWidget().parentWidget() if scrolled(chart) else None
            if isinstance(area, QAbstractScrollArea) and chart.width() > area.viewport().width() + 1:
                problems.append(f"{name}: the charts are cut on the right ({chart.width()} px in "
                                f"{area.viewport().width()} px): their titles need a sideways scroll")
        for view in window.findChildren(ClusterView):
            items = view.cluster.node_items()
            zoom = view.transform().m11()
            if view.isVisible() and items and items[0].compact and items[0].name_px(zoom) * zoom < LEGIBLE_PX - 0.05:
                problems.append(f"{name}: at fit, server names are {items[0].name_px(zoom) * zoom:.1f} px")
            for plot in chart.plots_shown():
                box = plot.vb.sceneBoundingRect()
                figures.setdefault(f"{name} chart heights", []).append(round(box.height()))
                if box.height() < 120 - 1e-6 and chart.min_plot_px >= 120:
                    problems.append(f"{name}: a chart '{plot.titleLabel.text[:40]}' is {box.height():.0f} px tall")
                title = plot.titleLabel.item.boundingRect().width()
                if title > plot.sceneBoundingRect().width() + 1:
                    problems.append(f"{name}: chart title '{plot.titleLabel.text[:40]}' is cut")
        mm = px_per_mm(window.screen())
        for button in window.findChildren(QPushButton):
            if button.isVisible() and getattr(window, "touch", False) and button.height() < TOUCH_TARGET_MM * mm - 0.5:
                problems.append(f"{name}: button '{button.text()}' is {button.height() / mm:.1f} mm tall")
        if getattr(window, "touch", False):  # the kiosk: visitors tap server boxes and read them from afar
            for side in window.sides:
                view = side.view
                share = view.height() / screen.height()
                figures.setdefault(f"{name} canvas share", []).append(round(share, 2))
                if share < 1 / 3:
                    problems.append(f"{name}: a canvas is {view.height()} px tall, under a third of the screen")
                zoom, item = view.transform().m11(), side.scene.node_items()[0]  # a side's boxes share one size
                if item.h * zoom < TOUCH_TARGET_MM * mm - 0.5:
                    problems.append(f"{name}: a server box is {item.h * zoom / mm:.1f} mm tall")
                if item.name_px(zoom) * zoom < window.type.label_px - 0.5:
                    problems.append(f"{name}: a server's name is {item.name_px(zoom) * zoom:.1f} px, "
                                    f"under the kiosk's {window.type.label_px} px labels")
        if shots is not None:
            window.grab().save(str(shots / f"{name}-{width}x{height}.png"))

    folder = tempfile.mkdtemp()
    settings = QSettings(f"{folder}/s.ini", QSettings.Format.IniFormat)
    for label, scenario in (("main", resolve("horizontal-7x1")), ("main-200", big_scenario(200))):
        win = MainWindow(scenario, None, settings, Path(folder))
        win.show()
        win.clock.set_speed(10.0)
        for _ in range(40):
            win.clock.tick(0.05)
        check(label, win)
        win.ctrl.undo_stack.setClean()
        win.close()
    compare = CompareWindow()
    compare.show_placed()
    for _ in range(40):
        compare.clock.tick(0.05)
    check("compare", compare)
    compare.close()
    kiosk = KioskWindow()
    kiosk.start()
    kiosk.clock.set_running(False)
    kiosk.show_lesson(3)
    kiosk.clock.set_speed(10.0)
    for _ in range(40):
        kiosk.clock.tick(0.05)
    check("kiosk", kiosk)
    kiosk.staff_exit()
    print(json.dumps({"problems": problems, "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
