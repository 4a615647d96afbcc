"""PyInstaller runtime hook, in place of PyInstaller's own ``pyi_rth_pyside6`` (see ``scalelab.spec``).

It sets what that hook sets for this app, Qt's plugin folder inside the bundle (and, on Windows, the
bundle folder on PATH), but does not import PySide6.QtCore. The stock hook imported it before the
app's first line ran, to register a ``qt.conf`` that the PySide6 wheels register themselves on
import. With PySide6 loaded that early, its import hook read every module imported after it (numpy,
pydantic and the engine: about 300 modules, 0.1 s of start-up); the app imports those before Qt.
"""

import os
import sys


def _qt_paths() -> None:
    qt = os.path.join(sys._MEIPASS, "PySide6") if sys.platform.startswith("win") else \
        os.path.join(sys._MEIPASS, "PySide6", "Qt")
    os.environ["QT_PLUGIN_PATH"] = os.path.join(qt, "plugins")
    os.environ["QML2_IMPORT_PATH"] = os.path.join(qt, "qml")
    if sys.platform.startswith("win"):
        os.environ["PATH"] = sys._MEIPASS + os.pathsep + os.environ.get("PATH", "")


_qt_paths()
del _qt_paths
