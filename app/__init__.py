"""ScaleLab's desktop window (PySide6 + pyqtgraph) on top of ``sim_core``."""

from app import qt_compat

qt_compat.apply()  # before any signal is emitted; imports no Qt
