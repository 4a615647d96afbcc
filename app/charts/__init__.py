"""Live charts over time: the pyqtgraph panel, the heat strip, theory overlays and the run's time bar."""
