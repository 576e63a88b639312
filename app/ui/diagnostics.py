"""Help → Diagnostics: ``callsim doctor``'s report in a dialog, copyable for a bug report.

The report takes a few seconds (its probes run in child processes, ``app/doctor.py``), so a
worker thread collects it and hands the finished text through a queue; a QTimer on the GUI
thread picks it up (the worker never touches a widget).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import doctor

POLL_MS = 100  # how often the dialog looks for the finished report
COLLECTING = "Collecting the report (callsim doctor)…"


def collect_report() -> str:
    """The same text ``callsim doctor`` prints."""
    return doctor.report_text(doctor.collect())


class DiagnosticsDialog(QDialog):
    """A read-only report, a Copy button (whole report to the clipboard) and Close."""

    def __init__(
        self, parent: QWidget | None = None, collect: Callable[[], str] = collect_report
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("CallSim diagnostics")
        self.resize(820, 420)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel("What CallSim needs on this machine, and the fix for what is missing:")
        )
        self.text = QPlainTextEdit(COLLECTING)
        self.text.setObjectName("diagnosticsText")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setFont(mono)
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_report)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

        self._results: queue.Queue[str] = queue.Queue()
        self._worker = threading.Thread(
            target=lambda: self._results.put(self._safe(collect)),
            name="diagnostics",
            daemon=True,  # a hung probe has its own timeout; closing the app must not wait
        )
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)
        self._timer.start(POLL_MS)
        self._worker.start()

    @staticmethod
    def _safe(collect: Callable[[], str]) -> str:
        try:
            return collect()
        except Exception as exc:  # the report must say something rather than spin forever
            return f"The diagnostics failed: {exc!r}"

    @property
    def ready(self) -> bool:
        """The report is in the text box."""
        return self.copy_button.isEnabled()

    def _poll(self) -> None:
        try:
            report = self._results.get_nowait()
        except queue.Empty:
            return
        self._timer.stop()
        self.text.setPlainText(report)
        self.copy_button.setEnabled(True)

    def copy_report(self) -> None:
        """Put the whole report on the clipboard."""
        QGuiApplication.clipboard().setText(self.text.toPlainText())


def show_diagnostics(parent: QWidget) -> DiagnosticsDialog:
    """Open the dialog (non-modal: the call goes on behind it)."""
    dialog = DiagnosticsDialog(parent)
    dialog.setModal(False)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
