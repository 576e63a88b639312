"""The caller's key presses, heard out of band and/or in band, merged into one press each.

A press can reach the service twice: as an out-of-band event and as an in-band tone the DTMF
detector finds a little later. Both within the merge window count once (docs/dsp.md §2.2:
"within one digit period (≈ 150 ms)"); a press is released (emitted) only once its window has
passed, so every source it will have is known (docs/architecture.md §3 "app/core").
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core import events as ev
from app.core.feed import DTMF_MASK_MARGIN_SAMPLES


@dataclass(slots=True)
class KeyPress:
    """One press of a key, with every source it was heard from.

    ``start`` is where the press is reported (its KeyPressed): the out-of-band event's sample
    when it has one, as that carries the exact press time, else the in-band tone's start.
    """

    key: str
    start: int
    sources: set[ev.KeySource]
    decided_at: int
    end: int | None = None
    emitted: bool = False
    consumed: bool = False  # it ended a recording: one press stops one operation only
    oob_start: int | None = None  # the out-of-band event's sample
    in_band_start: int | None = None  # the in-band tone's start (to one detector block)

    @property
    def in_band_audio(self) -> bool:
        """Whether the key's tone matters to the trim: it can reach before the press's start
        (app/core/capture.py). A live key's tone follows its out-of-band event by the
        look-ahead (docs/architecture.md §3 "Live keys"), so it does not."""
        i, o = self.in_band_start, self.oob_start
        return i is not None and (o is None or i <= o + DTMF_MASK_MARGIN_SAMPLES)

    def heard_before(self, b: int) -> tuple[int, bool] | None:
        """Where the press starts as far as its sources at samples < ``b`` tell, and whether its
        tone matters to the trim; None if no source is before ``b``.

        A source at ``b`` or later is not counted yet: an out-of-band event placed at the
        analysis position after the analysis passed its tone (a live key) is not there when
        that tone ends a recording, and a replay, which has the event from the start, must
        decide the same (docs/architecture.md §3 "Live keys").
        """
        if self.oob_start is not None and self.oob_start < b:
            return self.oob_start, self.in_band_audio
        if self.in_band_start is not None and self.in_band_start < b:
            return self.in_band_start, True
        return None


class KeyPresses:
    """Presses in start order: merged as sources arrive, released once their window passed."""

    __slots__ = ("merge_samples", "presses")

    def __init__(self, merge_samples: int) -> None:
        self.merge_samples = merge_samples
        self.presses: list[KeyPress] = []

    def add_source(self, key: str, at: int, source: ev.KeySource, *, decided_at: int) -> None:
        """``key`` heard from ``source`` at sample ``at``: a new press, or one more source."""
        for press in reversed(self.presses):
            if press.key == key and abs(press.start - at) <= self.merge_samples:
                if source not in press.sources and not press.emitted:
                    press.sources.add(source)
                    _set_source_start(press, source, at)
                    # An out-of-band event carries the exact press time; an in-band start is
                    # only known to one detector block, so it never overrides it.
                    press.start = press.oob_start if press.oob_start is not None else press.start
                    press.decided_at = min(press.decided_at, decided_at)
                return
        press = KeyPress(key, at, {source}, decided_at=decided_at)
        _set_source_start(press, source, at)
        self.presses.append(press)
        self.presses.sort(key=lambda p: p.start)

    def heard_at(self, at: int) -> bool:
        """Whether a press has a source (event or tone start) at sample ``at``."""
        return any(p.oob_start == at or p.in_band_start == at for p in self.presses)

    def release(self, b: int, *, all_now: bool) -> list[KeyPress]:
        """Mark and return, in order, the presses whose window ends by ``b`` (all if
        ``all_now``: the call has ended)."""
        released: list[KeyPress] = []
        for press in self.presses:
            if press.emitted:
                continue
            if press.start + self.merge_samples > b and not all_now:
                break
            press.emitted = True
            released.append(press)
        return released

    def forget_before(self, b: int) -> None:
        """Drop released presses long past (a stop tone looks back at most one window)."""
        self.presses = [
            p for p in self.presses if not p.emitted or p.start + 10 * self.merge_samples > b
        ]


def _set_source_start(press: KeyPress, source: ev.KeySource, at: int) -> None:
    if source == "outOfBand":
        press.oob_start = at
    else:
        press.in_band_start = at
