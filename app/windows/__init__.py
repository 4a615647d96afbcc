"""Top-level windows: the main window, the kiosk, the comparison, What-if and challenge play."""
