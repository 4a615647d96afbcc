"""ScaleLab's desktop window (PySide6 + pyqtgraph) on top of ``sim_core``."""
