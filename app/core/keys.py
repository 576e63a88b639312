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
    """One press of a key, with every source it was heard from."""

    key: str
    start: int
    sources: set[ev.KeySource]
    decided_at: int
    end: int | None = None
    emitted: bool = False
    in_band_audio: bool = False
    consumed: bool = False  # it ended a recording: one press stops one operation only


class KeyPresses:
    """Presses in start order: merged as sources arrive, released once their window passed."""

    __slots__ = ("merge_samples", "presses")

    def __init__(self, merge_samples: int) -> None:
        self.merge_samples = merge_samples
        self.presses: list[KeyPress] = []

    def add_source(
        self, key: str, at: int, source: ev.KeySource, *, decided_at: int, in_band_audio: bool
    ) -> None:
        """``key`` heard from ``source`` at sample ``at``: a new press, or one more source."""
        for press in reversed(self.presses):
            if press.key == key and abs(press.start - at) <= self.merge_samples:
                if source not in press.sources and not press.emitted:
                    press.sources.add(source)
                    # An out-of-band event carries the exact press time; an in-band start is
                    # only known to one detector block, so it never overrides it.
                    press.start = at if source == "outOfBand" else press.start
                    press.decided_at = min(press.decided_at, decided_at)
                    # The tone's audio matters to the trim only if it can reach before the
                    # press's start (app/core/capture.py): a live key's tone follows its
                    # out-of-band event by the look-ahead (docs/architecture.md §3 "Live keys").
                    press.in_band_audio = press.in_band_audio or (
                        in_band_audio and at <= press.start + DTMF_MASK_MARGIN_SAMPLES
                    )
                return
        self.presses.append(
            KeyPress(key, at, {source}, decided_at=decided_at, in_band_audio=in_band_audio)
        )
        self.presses.sort(key=lambda p: p.start)

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
