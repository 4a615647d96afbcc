"""ScaleLab's desktop window (PySide6 + pyqtgraph). Everything Qt lives here, never in sim_core."""
