"""The call list on screen: the picker, and which call the timeline, log and takes show.

The calls themselves are a plain ``CallList`` (app/ui/models/calls.py: no Qt); this panel
keeps the picker in step with it and points the views at the selected entry's own lists
(``LogView.show_records``, ``TakesView.show_takes``: no copies). The window adds to an entry
through ``add_rows``, ``add_take`` and ``take_ended``, which update the views only when that
entry is the one shown. Nothing here is cleared unless the user asks (``clear_current``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QComboBox

from app.ui.countdowns import CountdownPanel
from app.ui.log_view import LogView
from app.ui.models.calls import CallEntry, CallList
from app.ui.models.takes import Take
from app.ui.takes_view import TakesView
from app.ui.timeline_view import TimelineView

OK_STYLE = "color: #2e7d32;"
FAILED_STYLE = "color: #c62828;"


class CallListPanel:
    """The call picker and the views that show the picked call."""

    def __init__(
        self,
        log: LogView,
        takes: TakesView,
        timeline: TimelineView,
        countdowns: CountdownPanel,
    ) -> None:
        self.calls = CallList()
        self.log, self.takes, self.timeline, self.countdowns = log, takes, timeline, countdowns
        self.picker = QComboBox()
        self.picker.setObjectName("callPicker")
        self.picker.setToolTip(
            "Every call so far, the GUI's and the bots': pick one to see its timeline, log and "
            "takes"
        )
        self.picker.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.picker.setMinimumContentsLength(18)
        self.picker.setPlaceholderText("no call yet")
        self.picker.currentIndexChanged.connect(self.show_call)

    # -- the list ------------------------------------------------------------------------------

    def new_entry(self, title: str, origin: str, folder: Path | None, call_id: str) -> CallEntry:
        """A new call entry at the end of the list (selected and shown)."""
        entry = self.calls.add(CallEntry(title, origin, folder, call_id))
        self.picker.blockSignals(True)
        self.picker.addItem(entry.label(len(self.calls.calls)))
        self.picker.setCurrentIndex(len(self.calls.calls) - 1)
        self.picker.blockSignals(False)
        self.show_entry(entry)
        return entry

    def refresh_labels(self) -> None:
        """Every picker line again (a call went from live to ended)."""
        for i, entry in enumerate(self.calls.calls):
            self.picker.setItemText(i, entry.label(i + 1))

    def find(self, call_id: str) -> CallEntry | None:
        """The newest entry of ``call_id``."""
        return next((c for c in reversed(self.calls.calls) if c.call_id == call_id), None)

    def remove_unanswered(self, call_id: str) -> None:
        """Drop the entries that held ``call_id``'s endpoint rows before anyone picked it up."""
        for i, old in reversed(list(enumerate(self.calls.calls))):
            if old.call_id == call_id and old.session_dir is None:
                del self.calls.calls[i]
                self.picker.blockSignals(True)
                self.picker.removeItem(i)
                self.picker.blockSignals(False)

    # -- what is shown -------------------------------------------------------------------------

    def show_call(self, index: int) -> None:
        """Show the ``index``-th call's timeline, log, takes and ending (nothing is cleared)."""
        if 0 <= index < len(self.calls.calls):
            self.calls.selected = index
            self.show_entry(self.calls.calls[index])

    def shown(self, entry: CallEntry) -> bool:
        """Whether ``entry`` is the call on screen."""
        return self.calls.current is entry

    def show_entry(self, entry: CallEntry) -> None:
        """Point every view at ``entry``'s history."""
        index = self.calls.calls.index(entry)
        self.calls.selected = index
        if self.picker.currentIndex() != index:
            self.picker.blockSignals(True)
            self.picker.setCurrentIndex(index)
            self.picker.blockSignals(False)
        self.log.show_records(entry.records)
        self.takes.show_takes(entry.takes)
        self.timeline.reset(entry.timeline, entry.now_samples)
        self.timeline.ending_labels = entry.ending_labels
        self.countdowns.reset()
        self.countdowns.since = entry.since_sample
        if entry.ending_text:
            self.show_ending(entry)

    def show_ending(self, entry: CallEntry) -> None:
        """The entry's ending line, green when its operation completed."""
        self.countdowns.ending.setText(entry.ending_text)
        self.countdowns.ending.setStyleSheet(OK_STYLE if entry.ending_ok else FAILED_STYLE)

    # -- history grows -------------------------------------------------------------------------

    def add_rows(self, entry: CallEntry, records: list[dict[str, Any]]) -> None:
        """Log rows for ``entry`` (in time order); shown at once if it is on screen."""
        positions = entry.add_records(records)
        if self.shown(entry):
            self.log.rows_inserted(positions)

    def add_take(self, entry: CallEntry, take: Take) -> None:
        """A take of ``entry``; listed and selected if it is on screen."""
        entry.takes.append(take)
        if self.shown(entry):
            self.takes.take_added()

    def take_ended(self, entry: CallEntry, operation_id: str, words: str, code: str) -> None:
        """How the take of ``operation_id`` ended (it arrives just after the recording)."""
        for take in entry.takes:
            if take.operation_id == operation_id:
                take.ended_words, take.code = words, code
        if self.shown(entry):
            self.takes.take_changed(operation_id)

    def clear_current(self) -> None:
        """Clear the shown call's log and takes, as the user asked."""
        entry = self.calls.current
        if entry is None:
            self.log.clear()
            self.takes.clear()
        else:
            entry.records.clear()
            entry.takes.clear()
            self.show_entry(entry)
        self.countdowns.reset()
