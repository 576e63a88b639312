"""Exports: every file the window writes, each said in the status bar with a link to its folder.

The request, the response, the notifications, one log record, a take's WAV, the whole session
(a folder that is also a scenario) and the bug-report zip. The data comes from the window (the
shown call); this file asks where, writes through ``app.session.export`` (the serializers
``callsim run`` uses) and says what it wrote.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLabel, QStatusBar, QWidget

from app.core import events as ev
from app.scenario.output import write_json
from app.session.export import (
    export_notifications,
    export_recording,
    export_request,
    export_response,
    save_session,
)
from app.session.live import LiveSession
from app.ui.feedback import bug_report_zip, folder_link
from app.ui.models.takes import Take

# How long the status bar keeps "Wrote … to …" (long enough to read a path).
WROTE_MESSAGE_MS = 15000


class Exports:
    """Asks for a file, writes it, says so (status bar + "Open folder" link + the app log)."""

    def __init__(
        self,
        parent: QWidget,
        settings: QSettings,
        status: QStatusBar,
        link: QLabel,
        app_log: list[str],
    ) -> None:
        self.parent = parent
        self.settings = settings
        self.status = status
        self.link = link
        self.app_log = app_log
        self.last_output: Path | None = None

    def report_written(self, what: str, path: Path) -> None:
        """Say in the status bar what was written where, with a link to open its folder."""
        self.last_output = path
        self.status.showMessage(f"Wrote {what} to {path}", WROTE_MESSAGE_MS)
        self.link.setText(folder_link(path))
        self.link.setToolTip(str(path))
        self.app_log.append(f"wrote {what}: {path}")

    def ask_file(self, title: str, name: str, pattern: str) -> Path | None:
        """A save dialog in the last export folder; None when cancelled."""
        start = str(Path(str(self.settings.value("export/dir", str(Path.home())))) / name)
        path, _ = QFileDialog.getSaveFileName(self.parent, title, start, pattern)
        if not path:
            return None
        self.settings.setValue("export/dir", str(Path(path).parent))
        return Path(path)

    def export_request(self, record: dict[str, Any] | None) -> None:
        """The last request the window sent."""
        if record is None:
            self.status.showMessage("No request sent yet.", 4000)
            return
        path = self.ask_file("Export request", "request.json", "JSON (*.json)")
        if path is not None:
            self.report_written("the last request", export_request(path, record))

    def export_response(self, response: ev.ActionResponse | None) -> None:
        """The last synchronous response."""
        if response is None:
            self.status.showMessage("No response yet.", 4000)
            return
        path = self.ask_file("Export response", "response.json", "JSON (*.json)")
        if path is not None:
            self.report_written("the last response", export_response(path, response))

    def export_notifications(self, events: list[ev.Event]) -> None:
        """Every notification of ``events``."""
        path = self.ask_file("Export notifications", "notifications.json", "JSON (*.json)")
        if path is not None:
            export_notifications(path, events)
            self.report_written("the notifications", path)

    def export_record(self, record: dict[str, Any]) -> None:
        """One log record as JSON."""
        name = f"{record['kind']}-{record['t']:.3f}s.json"
        path = self.ask_file("Export record", name, "JSON (*.json)")
        if path is not None:
            write_json(path, record)
            self.report_written(f"the {record['kind']} record", path)

    def export_take(self, take: Take | None) -> None:
        """A take's WAV."""
        if take is None:
            return
        path = self.ask_file("Export recording", f"{take.operation_id}.wav", "WAV (*.wav)")
        if path is not None:
            export_recording(take.path, path)
            self.report_written("the take's WAV", path)

    def save_session(self, session: LiveSession | None, folder: Path | None) -> Path | None:
        """The session into ``folder`` (a new folder the user names if None)."""
        if session is None:
            self.status.showMessage("No session to save yet.", 4000)
            return None
        if folder is None:
            # A new folder, named by the user (a save dialog can create it; a folder picker
            # could only pick an existing one).
            name = f"callsim-session-{time.strftime('%Y%m%d-%H%M%S')}"
            folder = self.ask_file("Save session as a new folder", name, "Folder (*)")
            if folder is None:
                return None
        saved = save_session(session.snapshot(), folder)
        self.report_written("the session", saved.scenario)
        self.status.showMessage(
            f"Session saved to {folder}: replay with `callsim run {saved.scenario}` or File → Open",
            WROTE_MESSAGE_MS,
        )
        return folder

    def bug_report(
        self, session: LiveSession | None, out: Path | None, doctor_text: str | None
    ) -> Path | None:
        """Zip the session folder, the app log and `callsim doctor` into ``out`` (ask if None)."""
        if session is None:
            self.status.showMessage("No session to report yet: start a call first.", 6000)
            return None
        if out is None:
            name = f"callsim-bug-{time.strftime('%Y%m%d-%H%M%S')}.zip"
            out = self.ask_file("Save bug report", name, "Zip (*.zip)")
            if out is None:
                return None
        if doctor_text is None:
            self.status.showMessage("Collecting `callsim doctor` …")
            QGuiApplication.processEvents()
            from app.ui.diagnostics import collect_report

            doctor_text = collect_report()
        session.wait_engine()
        bug_report_zip(session.session_dir, "\n".join(self.app_log) + "\n", doctor_text, out)
        self.report_written("the bug report", out)
        return out
