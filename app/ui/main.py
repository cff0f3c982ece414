"""The main window: the tabs, the menus, the status bar, settings and the GUI error handler.

``run_gui()`` is what ``visiondesk`` (no arguments) and ``python -m app`` call.
"""
from __future__ import annotations

import importlib
import logging
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QtMsgType, QTimer, Signal, Slot, qInstallMessageHandler
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QApplication, QDialog, QDialogButtonBox, QFileDialog, QLabel, QMainWindow,
                               QMessageBox, QPlainTextEdit, QTabWidget, QVBoxLayout, QWidget)

from app.engine.runs import app_home, runs_root
from app.ui.notify import app_logger, log_path, report_error, set_error_handler  # noqa: F401 (re-exported)
from app.ui.state import AppState
from app.ui.widgets.messages import MessageArea

# (module, class, tab title), in the order the tabs appear. Every tab is part of the app: a module
# that cannot be imported is an error, never a silently missing tab.
TABS = [
    ("app.ui.tabs.data_tab", "DataTab", "Data"),
    ("app.ui.tabs.model_tab", "ModelTab", "Model"),
    ("app.ui.tabs.train", "TrainTab", "Train"),
    ("app.ui.tabs.keypoints", "KeypointsTab", "Keypoints"),
    ("app.ui.tabs.gan", "GanTab", "GAN"),
    ("app.ui.tabs.basics", "BasicsTab", "Basics"),
]

WELCOME = ("<b>New here?</b> Three steps train an image classifier: <b>1 · Data</b> — start with the built-in "
           "Fashion-MNIST sample or open a folder of your own pictures (one sub-folder per class); <b>2 · Model</b> "
           "— keep the suggested one or pick another; <b>3 · Train</b> — press Start and watch it learn, then "
           "“Try it” on a picture. Keypoints, GAN and Basics are there to explore whenever you like.")


def settings_path() -> Path:
    return app_home() / "settings.ini"


def make_settings() -> QSettings:
    """The app's settings: an INI file in VisionDesk's own folder (so tests and portable installs
    never touch the system-wide settings store)."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)


def load_tabs() -> list[tuple[str, type]]:
    """(title, class) of every tab, in order."""
    return [(title, getattr(importlib.import_module(module), cls)) for module, cls, title in TABS]


def versions() -> dict[str, str]:
    import PySide6
    import torch
    import torchvision

    from app import __version__

    return {"VisionDesk": __version__, "PyTorch": torch.__version__, "torchvision": torchvision.__version__,
            "PySide6": PySide6.__version__, "Python": sys.version.split()[0]}


class ErrorDialog(QDialog):
    """An unexpected error: what happened in one line, the details, and 'Copy details'."""

    def __init__(self, summary: str, details: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("VisionDesk: something went wrong")
        self.setModal(False)
        self.resize(640, 380)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.close)
        buttons.accepted.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addWidget(self.text, 1)
        lay.addWidget(buttons)
        self.count = 0
        self.add(summary, details)

    def add(self, summary: str, details: str) -> None:
        self.count += 1
        more = f" ({self.count} errors so far)" if self.count > 1 else ""
        self.summary.setText(f"<b>{summary}</b>{more}<br>The window keeps working. The details were written to "
                             f"{log_path()}; 'Copy details' puts them on the clipboard for a bug report.")
        old = self.text.toPlainText()
        self.text.setPlainText((old + "\n\n" if old else "") + details)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())


class _Relay(QObject):
    """Carries an error from any thread to ``target`` in the GUI thread (where the relay lives)."""

    error = Signal(str, str)

    def __init__(self, target):
        super().__init__()
        self._target = target
        self.error.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(str, str)
    def _deliver(self, summary: str, details: str) -> None:
        self._target(summary, details)


_QT_LEVELS = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}


class GuiExceptionHook:
    """The GUI's error handler, installed by the main window: ``sys.excepthook`` (errors in the GUI
    thread, e.g. in a slot), ``threading.excepthook`` (errors in plain Python threads) and a Qt message
    handler (Qt's own warnings). Every error goes to the app log (app_home()/logs/app.log) and, for
    Python errors, into one non-modal dialog with 'Copy details'; the window stays up. Workers that
    catch their own errors report them through ``report_error`` (the same log and dialog)."""

    #: the installed hook (the window's), used by ``report_error``
    active: "GuiExceptionHook | None" = None

    def __init__(self, window: "MainWindow"):
        self.window = window
        self.previous = sys.excepthook
        self.previous_thread_hook = threading.excepthook
        self.previous_qt_handler = None
        self.dialog: ErrorDialog | None = None
        self._inside = False
        self._relay = _Relay(self.show)

    def __call__(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            return self.previous(exc_type, exc, tb)
        from app.core.errors import UserError

        details = "".join(traceback.format_exception(exc_type, exc, tb))
        summary = str(exc) if isinstance(exc, UserError) else f"{exc_type.__name__}: {exc}".splitlines()[0]
        self.report(summary, details)

    def report(self, summary: str, details: str) -> None:
        """Log the error and show it in the dialog (from any thread)."""
        try:
            app_logger().error("%s\n%s", summary, details)
        except OSError:
            pass
        if sys.stderr is not None:          # None in a windowed app without a console
            try:
                sys.stderr.write(details if details.endswith("\n") else details + "\n")
            except (OSError, ValueError):
                pass
        if threading.current_thread() is threading.main_thread():
            self.show(summary, details)
        else:
            self._relay.error.emit(summary, details)

    def show(self, summary: str, details: str) -> None:
        """Show (or add to) the error dialog; GUI thread only."""
        if self._inside:
            return
        self._inside = True
        try:
            if self.dialog is not None and self.dialog.isVisible():
                self.dialog.add(summary, details)
            else:
                self.dialog = ErrorDialog(summary, details, self.window)
                self.dialog.show()
        finally:
            self._inside = False

    def _thread_hook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        name = getattr(args.thread, "name", "a background thread")
        details = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        self.report(f"{args.exc_type.__name__} in {name}: {args.exc_value}".splitlines()[0], details)

    @staticmethod
    def _qt_message(mode, context, message) -> None:
        where = f" ({context.file}:{context.line})" if context is not None and context.file else ""
        try:
            app_logger().log(_QT_LEVELS.get(mode, logging.WARNING), "Qt: %s%s", message, where)
        except OSError:
            pass

    def install(self) -> None:
        self.previous = sys.excepthook
        self.previous_thread_hook = threading.excepthook
        sys.excepthook = self
        threading.excepthook = self._thread_hook
        self.previous_qt_handler = qInstallMessageHandler(self._qt_message)
        GuiExceptionHook.active = self
        self._previous_handler = set_error_handler(self.report)

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self.previous
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self.previous_thread_hook
        if GuiExceptionHook.active is self:
            qInstallMessageHandler(self.previous_qt_handler)
            GuiExceptionHook.active = None
            set_error_handler(getattr(self, '_previous_handler', None))


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state or AppState(make_settings())
        self.settings = self.state.settings
        self.setWindowTitle("VisionDesk")
        self.setMinimumSize(1000, 640)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.pages: dict[str, QWidget] = {}
        for title, cls in load_tabs():
            page = cls(self.state, self)
            self.pages[title] = page
            self.tabs.addTab(page, title)
        self.welcome = MessageArea()
        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.welcome)
        col.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        if not self.settings.value("main/welcomed", False, type=bool):
            self.welcome.show_message(WELCOME, "info", fix=("Got it", self.dismiss_welcome))
        self.confirm_close = self._ask_close      # tests replace this to answer the question
        self._build_menus()
        self._build_status_bar()
        self._restore()
        self.excepthook = GuiExceptionHook(self)

    def dismiss_welcome(self) -> None:
        """Hide the first-launch guide for good (it is shown once, until the person closes it)."""
        self.welcome.clear()
        self.settings.setValue("main/welcomed", True)

    # ------------------------------------------------------------------ tabs
    @property
    def data_tab(self):
        return self.pages.get("Data")

    @property
    def model_tab(self):
        return self.pages.get("Model")

    @property
    def train_tab(self):
        return self.pages.get("Train")

    def tab_titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def show_tab(self, title: str) -> bool:
        page = self.pages.get(title)
        if page is not None:
            self.tabs.setCurrentWidget(page)
        return page is not None

    # ------------------------------------------------------------------ menus
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        self.actions_by_name[text.rstrip("…").strip()] = act
        return act

    def _build_menus(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "Open image folder…", self.open_image_folder, QKeySequence.StandardKey.Open,
                     "Use your own images: a folder with one sub-folder per class")
        self._action(f, "Open a past run…", self.open_past_run, "Ctrl+Shift+O",
                     "Show a past training run's curves and results")
        self._action(f, "Export model…", self.export_model, "Ctrl+E",
                     "Save the trained model as PyTorch weights or ONNX")
        f.addSeparator()
        self._action(f, "Quit", self.close, QKeySequence.StandardKey.Quit)
        t = bar.addMenu("&Training")
        self._action(t, "Start / stop training", self.toggle_training, "Ctrl+R")
        self._action(t, "Pause / resume training", self.toggle_pause, "Ctrl+P")
        v = bar.addMenu("&View")
        for i, title in enumerate(self.pages):
            self._action(v, f"{title} tab", lambda _=False, t=title: self.show_tab(t), f"Ctrl+{i + 1}")
        h = bar.addMenu("&Help")
        self._action(h, "About VisionDesk", self.show_about, QKeySequence.StandardKey.HelpContents)
        self._action(h, "Show the log folder", self.open_log_folder)

    def _build_status_bar(self) -> None:
        from app.engine.devices import describe_device

        sb = self.statusBar()
        self.activity_label = QLabel("Ready")
        self.device_label = QLabel()
        try:
            self.device_text = describe_device("auto")
        except Exception as exc:  # a broken driver: say so, keep working on the CPU
            self.device_text = f"CPU (GPU check failed: {type(exc).__name__})"
        self.device_label.setText(f"Device: {self.device_text}")
        self.device_label.setToolTip("Where the training computes. Choose CPU or GPU in the Train tab.")
        sb.addWidget(self.activity_label, 1)
        sb.addPermanentWidget(self.device_label)
        self.state.busyChanged.connect(self._on_busy)

    def _on_busy(self, what: str) -> None:
        self.activity_label.setText(what or "Ready")

    # ------------------------------------------------------------------ actions
    def open_image_folder(self, path: str | None = None) -> None:
        if not path:
            start = str(self.settings.value("main/image_folder", str(Path.home())))
            path = QFileDialog.getExistingDirectory(self, "Choose a folder with one sub-folder per class", start)
        if not path:
            return
        self.settings.setValue("main/image_folder", str(path))
        self.show_tab("Data")
        self.data_tab.open_folder(str(path))

    def open_past_run(self, path: str | None = None) -> None:
        if not path:
            path = QFileDialog.getExistingDirectory(self, "Choose a run folder", str(runs_root()))
        if not path:
            return
        self.show_tab("Train")
        self.state.runOpened.emit(str(path))

    def export_model(self) -> None:
        self.show_tab("Train")
        self.train_tab.export_model()

    def toggle_training(self) -> None:
        self.show_tab("Train")
        self.train_tab.toggle_training()

    def toggle_pause(self) -> None:
        self.train_tab.toggle_pause()

    def about_text(self) -> str:
        rows = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
        return (f"<h3>VisionDesk</h3><p>Vision deep learning by clicking: load images, pick a model, train it "
                f"and see what it learned.</p><table>{rows}<tr><td>Device</td><td>&nbsp;{self.device_text}</td></tr>"
                f"</table><p>Your runs are kept in {runs_root()}.</p>")

    def show_about(self) -> None:
        QMessageBox.about(self, "About VisionDesk", self.about_text())

    def open_log_folder(self) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        log_path().parent.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_path().parent)))

    # ------------------------------------------------------------------ settings and closing
    def _restore(self) -> None:
        geo = self.settings.value("main/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 800)
        state = self.settings.value("main/state")
        if state is not None:
            self.restoreState(state)
        tab = self.settings.value("main/tab")
        if tab:
            self.show_tab(str(tab))

    def save_settings(self) -> None:
        self.settings.setValue("main/geometry", self.saveGeometry())
        self.settings.setValue("main/state", self.saveState())
        self.settings.setValue("main/tab", self.tabs.tabText(self.tabs.currentIndex()))
        self.settings.sync()

    def busy_tabs(self) -> list[str]:
        out = []
        for title, page in self.pages.items():
            is_busy = getattr(page, "is_busy", None)
            if callable(is_busy) and is_busy():
                out.append(title)
        return out

    def _ask_close(self, busy: list[str]) -> bool:
        answer = QMessageBox.question(
            self, "Quit VisionDesk?",
            f"Still working in: {', '.join(busy)}.\n\nQuit anyway? A running training stops after the current "
            "batch and saves a checkpoint, so you can continue it later.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:
        busy = self.busy_tabs()
        if busy and not self.confirm_close(busy):
            event.ignore()
            return
        self.activity_label.setText("Stopping and saving…")
        self.save_settings()
        # from here on nothing should reach the tabs through the shared state (e.g. a data set that
        # finishes loading while the window closes)
        self.state.blockSignals(True)
        for page in self.pages.values():
            shutdown = getattr(page, "shutdown", None)
            if callable(shutdown):
                try:
                    shutdown()
                except Exception:  # one tab failing must not keep the others running
                    app_logger().exception("shutdown of a tab failed")
        self.excepthook.uninstall()
        event.accept()


def run_gui(argv: list[str] | None = None) -> int:
    """Open the main window and run the event loop; returns the exit status."""
    import pyqtgraph as pg

    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("VisionDesk")
    app.setOrganizationName("VisionDesk")
    pg.setConfigOptions(background="w", foreground="#444", antialias=True)
    style = load_style()
    if style:
        app.setStyleSheet(style)
    window = MainWindow()
    window.excepthook.install()
    app_logger().info("VisionDesk started (%s)", ", ".join(f"{k} {v}" for k, v in versions().items()))
    window.show()
    QTimer.singleShot(0, window.raise_)
    return app.exec()


def load_style() -> str:
    from app.core.paths import resources_dir

    path = resources_dir() / "style.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
