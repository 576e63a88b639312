"""The notification log: every response and notification in order, the full JSON on selection.

Rows hold the record ``app.scenario.output.event_record`` makes, the same one events.jsonl
holds, so what is copied or exported here matches ``callsim run`` output. With the Graph
endpoint on, rows also hold the endpoint's own records (``ServerEvent.to_json()``, the same as
``callsim serve --jsonl`` writes, plus ``t``): notification deliveries, the bot's HTTP requests
and call states.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core import events as ev
from app.scenario.output import event_record
from app.ui.models.curl import curl_command

# Record kinds the endpoint adds (app.server.events / notifier ``to_json()``).
DELIVERY_KIND = "delivery"
HTTP_KIND = "http"
CALL_KINDS = frozenset({"callState", "callAdded"})
# The Graph traffic a bot developer reads first; the engine's inner events only on request.
MAIN_KINDS = frozenset({"response", "notification", DELIVERY_KIND, HTTP_KIND, *CALL_KINDS})
FILTERS = (
    ("main", "Responses, notifications and deliveries"),
    ("response", "Responses"),
    ("notification", "Notifications"),
    ("delivery", "Deliveries to the bot"),
    ("http", "Bot's HTTP requests"),
    ("call", "Call states"),
    ("all", "Everything (engine events too)"),
)
# Filter key → the record kinds it shows (None: every kind).
FILTER_KINDS: dict[str, frozenset[str] | None] = {
    "main": MAIN_KINDS,
    "response": frozenset({"response"}),
    "notification": frozenset({"notification"}),
    "delivery": frozenset({DELIVERY_KIND}),
    "http": frozenset({HTTP_KIND}),
    "call": CALL_KINDS,
    "all": None,
}
GREEN = "#2e7d32"
RED = "#c62828"
AMBER = "#ef6c00"
BLUE = "#1565c0"
PURPLE = "#6a1b9a"


def _ms(latency_ms: float) -> str:
    """A latency for a summary: 0.4, 3.2, 17 (ms)."""
    return f"{latency_ms:.1f}" if latency_ms < 10 else f"{latency_ms:.0f}"


def record_summary(record: dict[str, Any]) -> str:
    """One line for a record: what a reader needs to spot it."""
    kind = record["kind"]
    if kind == "response":
        body = record.get("body") or {}
        if record["status"] == 200:
            location = record.get("headers", {}).get("Location", "")
            return f"{record['action']} → 200 {body.get('status', '')}  Location …{location[-40:]}"
        message = body.get("error", {}).get("message", "")
        return f"{record['action']} → {record['status']} {message}"
    if kind == "notification":
        return str(record.get("summary", ""))
    if kind == DELIVERY_KIND:
        return delivery_summary(record)
    if kind == HTTP_KIND:
        return (
            f"{record['method']} {record['path']} → {record['status']} "
            f"({_ms(record['latencyMs'])} ms)"
        )
    if kind == "callState":
        return f"call {str(record['callId'])[:8]} {record['state']} ({record['reason']})"
    if kind == "callAdded":
        return (
            f"call {str(record['callId'])[:8]} added ({record['direction']}, "
            f"callback {record['callbackUri']})"
        )
    details = {k: v for k, v in record.items() if k not in ("t", "kind", "operationId")}
    return ", ".join(f"{k}={v}" for k, v in details.items())


def delivery_summary(record: dict[str, Any]) -> str:
    """E.g. "#2 call established → POST callback 202 in 3.1 ms (attempt 1)"."""
    head = f"#{record['sequence']} {record.get('summary') or 'notification'}"
    attempt = int(record["attempt"])
    if record["outcome"] == "delivered":
        return (
            f"{head} → POST callback {record['status']} in {_ms(record['latencyMs'])} ms "
            f"(attempt {attempt})"
        )
    if record["outcome"] == "retrying":
        return (
            f"{head} → retrying in {record.get('retryInS') or 0:.1f} s: {record['error']} "
            f"(attempt {attempt})"
        )
    attempts = "1 attempt" if attempt == 1 else f"{attempt} attempts"
    return f"{head} → failed after {attempts}: {record['error']}"


def record_colour(record: dict[str, Any]) -> str | None:
    """The kind column's colour: green for success, amber for a retry, red for a failure."""
    kind = record["kind"]
    if kind == "response":
        return GREEN if record["status"] == 200 else RED
    if kind == "notification":
        return BLUE
    if kind == DELIVERY_KIND:
        return {"delivered": GREEN, "retrying": AMBER}.get(record["outcome"], RED)
    if kind == HTTP_KIND:
        return GREEN if 200 <= int(record["status"]) < 300 else RED
    if kind in CALL_KINDS:
        return PURPLE
    return None


class JsonWindow(QDialog):
    """One record's JSON in a window of its own, as large as the user likes."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.text)
        self.resize(760, 640)


class LogView(QWidget):
    """A filterable list of records with a JSON pane, copy, copy as curl and export.

    A thin view over a list of records it does not own (``show_records``: a ``CallEntry``'s
    ``records``, the same history the exports and the tests read). It keeps no copy: a row's
    record is the list's item at the row's index. ``rows_inserted`` shows what the model
    inserted; ``add_records`` inserts into the bound list itself (a view used on its own).

    ``message`` says what a copy did (the window shows it in its status bar);
    ``request_for`` finds the request behind a record (set by the window), for "copy as curl".
    """

    export_requested = Signal(dict)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.filter_kind = QComboBox()
        for key, title in FILTERS:
            self.filter_kind.addItem(title, key)
        # Narrow enough for a 1280 px wide window; the open list shows the long titles.
        self.filter_kind.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.filter_kind.setMinimumContentsLength(14)
        self.filter_text = QLineEdit()
        self.filter_text.setPlaceholderText("Filter (text in the summary or JSON)")
        self.filter_text.setClearButtonEnabled(True)
        self.copy_button = QPushButton("Copy JSON")
        self.curl_button = QPushButton("Copy as curl")
        self.curl_button.setToolTip("The request behind the selected row as a curl command")
        self.enlarge_button = QPushButton("Open JSON…")
        self.enlarge_button.setToolTip("The selected row's JSON in a window of its own")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the selected row's JSON to a file")
        bar.addWidget(self.filter_kind)
        bar.addWidget(self.filter_text, 1)
        for button in (
            self.copy_button,
            self.curl_button,
            self.enlarge_button,
            self.export_button,
        ):
            bar.addWidget(button)
        layout.addLayout(bar)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Time", "Kind", "Summary"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setColumnWidth(0, 80)
        self.tree.setColumnWidth(1, 110)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        split.addWidget(self.tree)
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout.addWidget(split, 1)
        self.splitter = split
        self.json_windows: list[JsonWindow] = []
        self.request_for: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda _: None
        self.filter_kind.currentIndexChanged.connect(self._apply_filter)
        self.filter_text.textChanged.connect(self._apply_filter)
        self.tree.currentItemChanged.connect(self._show_current)
        self.copy_button.clicked.connect(self.copy_current)
        self.curl_button.clicked.connect(self.copy_curl)
        self.enlarge_button.clicked.connect(self.open_json_window)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_json_window())
        self.export_button.clicked.connect(self._export_current)
        self.records: list[dict[str, Any]] = []
        self._update_buttons()

    def clear(self) -> None:
        """Show an empty list of its own (the previously shown list is left as it is)."""
        self.show_records([])

    def show_records(self, records: list[dict[str, Any]]) -> None:
        """Show ``records`` (kept in time order by their owner), bound without a copy."""
        self.tree.clear()
        self.details.clear()
        self.records = records
        self.rows_inserted(list(range(len(records))))

    def add_events(self, events: list[ev.Event]) -> None:
        """Append a row per logged event (audio chunks are not logged)."""
        self.add_records([r for r in map(event_record, events) if r is not None])

    def add_records(self, records: list[dict[str, Any]]) -> None:
        """Add a row per record (each has ``t`` in seconds and ``kind``), in time order.

        A record stamped earlier than rows already shown (the endpoint's rows from before the
        pick-up, an engine event back-dated by the VAD) goes in its place, not at the end.
        """
        positions: list[int] = []
        for record in records:
            index = bisect.bisect_right([r["t"] for r in self.records], record["t"])
            self.records.insert(index, record)
            positions.append(index)
        self.rows_inserted(positions)

    def rows_inserted(self, positions: list[int]) -> None:
        """Show the records the owner inserted at ``positions`` (in insertion order)."""
        follow = self._at_bottom()
        for index in positions:
            record = self.records[index]
            item = QTreeWidgetItem([f"{record['t']:.3f}", record["kind"], record_summary(record)])
            colour = record_colour(record)
            if colour is not None:
                item.setForeground(1, QColor(colour))
            self.tree.insertTopLevelItem(index, item)
            item.setHidden(not self._matches(record))  # only works once the item is in the tree
        if follow:
            self.tree.scrollToBottom()

    def _at_bottom(self) -> bool:
        bar = self.tree.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _matches(self, record: dict[str, Any]) -> bool:
        kinds = FILTER_KINDS.get(self.filter_kind.currentData())
        if kinds is not None and record["kind"] not in kinds:
            return False
        needle = self.filter_text.text().strip().lower()
        if needle:
            haystack = (record_summary(record) + json.dumps(record)).lower()
            return needle in haystack
        return True

    def _items(self) -> list[QTreeWidgetItem]:
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item for item in items if item is not None]

    def _apply_filter(self) -> None:
        for item, record in zip(self._items(), self.records, strict=True):
            item.setHidden(not self._matches(record))

    def visible_records(self) -> list[dict[str, Any]]:
        """Records of the rows the filter shows, in order."""
        rows = zip(self._items(), self.records, strict=True)
        return [record for item, record in rows if not item.isHidden()]

    def current_record(self) -> dict[str, Any] | None:
        """The selected row's record (the bound list's item, not a copy)."""
        item = self.tree.currentItem()
        index = -1 if item is None else self.tree.indexOfTopLevelItem(item)
        return self.records[index] if 0 <= index < len(self.records) else None

    def _show_current(self, *_: object) -> None:
        record = self.current_record()
        self.details.setPlainText(
            "" if record is None else json.dumps(record, indent=2, ensure_ascii=False)
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        record = self.current_record()
        for button in (self.copy_button, self.enlarge_button, self.export_button):
            button.setEnabled(record is not None)
        self.curl_button.setEnabled(record is not None and self.request_for(record) is not None)

    def copy_current(self) -> None:
        """Copy the selected record's JSON to the clipboard."""
        record = self.current_record()
        if record is not None:
            text = json.dumps(record, indent=2, ensure_ascii=False)
            QGuiApplication.clipboard().setText(text)
            self.message.emit(
                f"Copied the {record['kind']} at {record['t']:.3f} s as JSON "
                f"({len(text)} characters) to the clipboard."
            )

    def copy_curl(self) -> str | None:
        """Copy the selected row's request as a ``curl`` command; returns it."""
        record = self.current_record()
        request = None if record is None else self.request_for(record)
        if request is None:
            self.message.emit("The selected row has no request to copy as curl.")
            return None
        command = curl_command(request["method"], request["url"], request.get("body"))
        QGuiApplication.clipboard().setText(command)
        self.message.emit(f"Copied as curl: {request['method']} {request['url']}")
        return command

    def open_json_window(self) -> JsonWindow | None:
        """Show the selected record's JSON in a window of its own."""
        record = self.current_record()
        if record is None:
            return None
        title = f"{record['kind']} at {record['t']:.3f} s — {record_summary(record)[:80]}"
        window = JsonWindow(title, json.dumps(record, indent=2, ensure_ascii=False), self)
        self.json_windows.append(window)
        window.finished.connect(lambda *_: self.json_windows.remove(window))
        window.show()
        return window

    def _export_current(self) -> None:
        record = self.current_record()
        if record is not None:
            self.export_requested.emit(record)
