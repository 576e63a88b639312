"""The menu bar: File (open, save, bug report, exports), Presets, Call, View and Help.

Every item only calls what the window offers (``MenuTarget``); the View items toggle the docks,
presenter mode, the timeline's follow-live and zoom.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Protocol

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QDockWidget, QMainWindow

from app.resources import example_scenarios
from app.scenario.model import ScenarioError, load_scenario
from app.ui.diagnostics import show_diagnostics
from app.ui.timeline_view import TimelineView


class MenuTarget(Protocol):
    """What the menus call (the window; a protocol: the window imports the menus)."""

    def open_scenario(self, path: Path | None) -> object: ...
    def save_session_to(self, folder: Path | None) -> Path | None: ...
    def save_bug_report(self, out: Path | None) -> Path | None: ...
    def export_last_request(self) -> None: ...
    def export_last_response(self) -> None: ...
    def export_notifications(self) -> None: ...
    def export_selected_take(self) -> None: ...
    def new_call(self) -> bool: ...
    def clear_views(self) -> None: ...
    def set_presenter_mode(self, on: bool) -> None: ...


class WindowMenus:
    """Builds the menu bar of ``window``; keeps the actions the tests and the window use."""

    def __init__(
        self,
        window: QMainWindow,
        target: MenuTarget,
        docks: tuple[QDockWidget, ...],
        timeline: TimelineView,
        follow_live: QCheckBox,
    ) -> None:
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = QAction("Open scenario or saved session…", window)
        self.open_action.setShortcut("Ctrl+O")
        self.open_action.triggered.connect(lambda: target.open_scenario(None))
        file_menu.addAction(self.open_action)
        # On the menu bar, not in File: the first thing a new user is told to open.
        self.presets_menu = bar.addMenu("&Presets")
        self.presets_menu.setToolTip("One small scenario per ending (8508-8536), played live")
        self.preset_actions: dict[str, QAction] = {}
        for path in example_scenarios():
            action = QAction(path.stem, window)
            with contextlib.suppress(ScenarioError, OSError):
                action.setToolTip(load_scenario(path).description)
            action.triggered.connect(lambda _=False, p=path: target.open_scenario(p))
            self.presets_menu.addAction(action)
            self.preset_actions[path.stem] = action
        self.presets_menu.setToolTipsVisible(True)
        file_menu.addSeparator()
        self.save_session_action = QAction("Save session to folder…", window)
        self.save_session_action.setShortcut("Ctrl+S")
        self.save_session_action.triggered.connect(lambda: target.save_session_to(None))
        file_menu.addAction(self.save_session_action)
        self.bug_report_action = QAction("Save bug report (zip)…", window)
        self.bug_report_action.triggered.connect(lambda: target.save_bug_report(None))
        file_menu.addAction(self.bug_report_action)
        file_menu.addSeparator()
        for title, handler in (
            ("Export last request…", target.export_last_request),
            ("Export last response…", target.export_last_response),
            ("Export notifications…", target.export_notifications),
            ("Export selected take (WAV)…", target.export_selected_take),
        ):
            action = QAction(title, window)
            action.triggered.connect(handler)
            file_menu.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("Quit", window)
        quit_action.setShortcut("Ctrl+Q")
        quit_action.triggered.connect(window.close)
        file_menu.addAction(quit_action)

        call_menu = bar.addMenu("&Call")
        self.new_call_action = QAction("New call", window)
        self.new_call_action.setShortcut("Ctrl+N")
        self.new_call_action.setToolTip("Hang up the current call (if any) and start a new one")
        self.new_call_action.triggered.connect(target.new_call)
        self.clear_action = QAction("Clear log and takes", window)
        self.clear_action.triggered.connect(target.clear_views)
        call_menu.addAction(self.new_call_action)
        call_menu.addAction(self.clear_action)

        view = bar.addMenu("&View")
        self.view_menu = view
        for dock in docks:
            # Closable docks: their toggle actions are enabled only then (Qt disables them
            # for a dock that cannot be closed).
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        self.presenter_action = QAction("Presenter mode (large countdowns)", window)
        self.presenter_action.setCheckable(True)
        self.presenter_action.setShortcut("F11")
        self.presenter_action.toggled.connect(target.set_presenter_mode)
        view.addAction(self.presenter_action)
        self.follow_action = QAction("Timeline follows live", window)
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)
        self.follow_action.toggled.connect(follow_live.setChecked)
        follow_live.toggled.connect(self.follow_action.setChecked)
        view.addAction(self.follow_action)
        for title, factor, key in (
            ("Zoom timeline in", 0.8, "Ctrl+="),
            ("Zoom timeline out", 1.25, "Ctrl+-"),
        ):
            action = QAction(title, window)
            action.setShortcut(key)
            action.triggered.connect(lambda _=False, f=factor: timeline.zoom(f))
            view.addAction(action)
        self.diagnostics_action = QAction("Diagnostics…", window)  # `callsim doctor`'s report
        self.diagnostics_action.triggered.connect(lambda: show_diagnostics(window))
        bar.addMenu("&Help").addAction(self.diagnostics_action)
