"""Sizes taken from the screen a window opens on: window geometry, physical units, kiosk type sizes.

Windows open at a size that fits the screen's available geometry (what the task bar and panels
leave), so the most common laptop screen (1366 x 768) shows every panel, and a 4K screen gets
a larger window rather than a postage stamp. The kiosk sizes its type and touch targets from
the screen's height and its physical pixel density.
"""

from __future__ import annotations

from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

MM_PER_INCH = 25.4
TOUCH_TARGET_MM = 9.0  # the smallest comfortable touch target (ISO 9241-9 and platform guidelines)
FILL = 0.94  # share of the available width and height a new window takes at most


def available(widget: QWidget | None = None) -> QRect:
    """The available geometry (pixels, logical) of the widget's screen, else the primary screen."""
    screen = widget.screen() if widget is not None else None
    screen = screen or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def window_size(preferred: QSize, area: QRect) -> QSize:
    """``preferred`` shrunk to at most FILL of ``area`` in each direction."""
    return QSize(min(preferred.width(), int(area.width() * FILL)), min(preferred.height(), int(area.height() * FILL)))


def place(widget: QWidget, preferred: QSize) -> None:
    """Resize ``widget`` to ``preferred`` or less so it fits its screen, centred on the available area."""
    area = available(widget)
    size = window_size(preferred, area)
    widget.resize(size)
    widget.move(area.x() + (area.width() - size.width()) // 2, area.y() + (area.height() - size.height()) // 2)


def keep_on_screen_once_framed(widget: QWidget) -> None:
    """Once ``widget`` has painted (its window manager's frame is known by then), move it so that its
    frame, title bar included, lies inside the available area: centring a 94% window left a 25 px
    title bar and border 1 px over a 768 px screen's edge. Only a move: its size and layout stay.
    Call it when the window is first shown."""
    from app.first_paint import after_first_paint

    after_first_paint(lambda: _move_inside(widget) if shiboken6.isValid(widget) else None, widget)


def _move_inside(widget: QWidget) -> None:
    area, frame = available(widget), widget.frameGeometry()
    x = max(area.x(), min(frame.x(), area.x() + area.width() - frame.width()))
    y = max(area.y(), min(frame.y(), area.y() + area.height() - frame.height()))
    if (x, y) != (frame.x(), frame.y()):
        widget.move(x, y)


def keep_on_screen(widget: QWidget) -> None:
    """After restoring a saved geometry: shrink and move the window back inside the available area."""
    area = available(widget)
    frame = widget.frameGeometry()
    size = window_size(widget.size(), area) if not area.contains(frame) else widget.size()
    widget.resize(size)
    x = min(max(frame.x(), area.x()), area.right() - size.width())
    y = min(max(frame.y(), area.y()), area.bottom() - size.height())
    widget.move(x, y)


def px_per_mm(screen: QScreen | None = None) -> float:
    """Logical pixels per millimetre of the screen (96 dpi when the screen does not say)."""
    screen = screen or QGuiApplication.primaryScreen()
    dpi = screen.physicalDotsPerInch() if screen is not None else 96.0
    dpi = dpi if 50.0 <= dpi <= 1000.0 else 96.0  # some drivers report 0 or nonsense
    ratio = screen.devicePixelRatio() if screen is not None else 1.0
    return dpi / ratio / MM_PER_INCH


@dataclass(frozen=True)
class KioskType:
    """Pixel sizes (logical) of the kiosk's type and touch targets for one screen."""

    title_px: int  # the lesson title
    caption_px: int  # what to watch
    figure_px: int  # the readout figures
    label_px: int  # captions under the figures, chart titles, axis ticks
    target_px: int  # minimum height of a touch target (lesson and Fail buttons)
    zoom: float  # the largest zoom at which the canvases show a cluster


def kiosk_type(size: QSize, mm: float) -> KioskType:
    """Type scaled to the screen's height ``size`` (pixels) with ``mm`` pixels per millimetre.

    The layout looks the same at every resolution: sizes are fractions of the screen height. A
    1080p screen gets 34 px titles, 32 px figures, 22 px captions and 15 px labels: on a 40-inch
    1080p screen (0.46 mm a pixel) the figures' capitals are about 10 mm tall and the captions'
    about 7 mm, readable from 2 m (signage asks for about 1/250 of the distance, 8 mm). Touch
    targets are at least TOUCH_TARGET_MM whatever the density, and 1/24 of the height. The canvases
    may zoom in as the type grows (1.5 at 1080p), so server names can be as large as the labels.
    """
    h = size.height()
    return KioskType(
        title_px=max(18, round(h / 32)),
        caption_px=max(14, round(h / 50)),
        figure_px=max(16, round(h / 34)),
        label_px=max(11, round(h / 72)),
        target_px=max(round(TOUCH_TARGET_MM * mm), round(h / 24)),
        zoom=max(1.25, h / 720),
    )
