"""The log and the take list are thin views over a CallEntry's own lists (issue 9, "Calls").

The call list (app/ui/models/calls.py) holds every call's history; ``CallListPanel`` points
the real LogView and TakesView at the selected entry's lists. They keep no copies: what the
views show is what the exports and the tests read.
"""

from __future__ import annotations

from pathlib import Path

from app.ui.call_list_panel import CallListPanel
from app.ui.countdowns import CountdownPanel
from app.ui.log_view import LogView
from app.ui.models.takes import Take
from app.ui.takes_view import TakesView
from app.ui.timeline_view import TimelineView


def _panel(qtbot) -> CallListPanel:  # type: ignore[no-untyped-def]
    log, takes = LogView(), TakesView()
    for widget in (log, takes):
        qtbot.addWidget(widget)
    return CallListPanel(log, takes, TimelineView(), CountdownPanel())


def test_views_show_the_selected_calls_lists_without_copies(qtbot, tmp_path: Path) -> None:
    panel = _panel(qtbot)
    first = panel.new_entry("GUI call 1", "gui", tmp_path, "call-1")
    panel.add_rows(first, [{"t": 2.0, "kind": "speechStarted"}])
    panel.add_rows(first, [{"t": 1.0, "kind": "beepStarted"}])
    panel.add_take(first, Take("op-1", tmp_path / "op-1.wav", 16000, True))
    assert panel.log.records is first.records and panel.takes.takes is first.takes
    assert [r["t"] for r in first.records] == [1.0, 2.0]  # time order, in the model
    assert panel.log.tree.topLevelItemCount() == 2
    panel.log.tree.setCurrentItem(panel.log.tree.topLevelItem(1))
    assert panel.log.current_record() is first.records[1]  # the model's record, not a copy

    second = panel.new_entry("bot call 2", "bot", None, "call-2")
    panel.add_rows(first, [{"t": 3.0, "kind": "speechEnded"}])  # not shown now
    assert panel.log.records is second.records and panel.log.tree.topLevelItemCount() == 0
    panel.take_ended(first, "op-1", "stop tone pressed", "200/8514")
    assert first.takes[0].code == "200/8514" and panel.takes.list.count() == 0

    panel.picker.setCurrentIndex(0)  # the user picks the first call again: all of it is there
    assert panel.log.records is first.records and panel.log.tree.topLevelItemCount() == 3
    assert panel.takes.list.count() == 1 and "200/8514" in panel.takes.list.item(0).text()

    panel.clear_current()  # as the user asked: the entry's lists are emptied, the views follow
    assert first.records == [] and first.takes == []
    assert panel.log.tree.topLevelItemCount() == 0 and panel.takes.list.count() == 0
    assert panel.log.records is first.records and second.records == []
