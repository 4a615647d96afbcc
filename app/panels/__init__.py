"""Side panels of the main window: inspector, theory, what to watch, goals, overload banner."""
