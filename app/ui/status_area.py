"""The status bar and the audio banner: the call's clock, overflows, latency, lost devices.

Shows what the poll hands it (the session's counters, the ALSA counter, the supervisor's lost
devices) and keeps the window's log of status messages for the bug report. Decides nothing.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStatusBar

from app.audio.devices import AudioStatus
from app.audio.supervisor import RETRY_INTERVAL_S, DeviceEvent
from app.core.clock import ENGINE_RATE_HZ
from app.session.live import LiveSession
from app.ui.widgets import Banner


def device_banner(audio: AudioStatus) -> str:
    """What the banner says about the audio devices found at start (empty: all is well)."""
    if audio.available and not audio.problem:
        return ""
    if audio.banner:
        return audio.banner
    return f"{audio.problem}. Fix: {audio.fix}." if audio.problem else ""


class StatusArea:
    """The status bar's permanent labels and the banner about the audio devices."""

    def __init__(self, status: QStatusBar, banner: Banner, audio: AudioStatus) -> None:
        self.status = status
        self.banner = banner
        self.audio = audio
        self.app_log: list[str] = []  # status messages, in order (for the bug report)
        self._stall_banner_shown = False
        banner.show_message(device_banner(audio))
        self.time_label = QLabel("no call")
        self.overflow_label = QLabel("input overflows: 0")
        self.overflow_label.setObjectName("overflowLabel")
        self.underrun_label = QLabel("")
        self.underrun_label.setObjectName("underrunLabel")
        self.underrun_label.setToolTip(
            "Speaker underruns the sound system reported (ALSA); they are counted here instead "
            "of printed in the terminal"
        )
        self.output_link = QLabel("")
        self.output_link.setObjectName("outputLink")
        self.output_link.setOpenExternalLinks(True)
        self.output_link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.folder_label = QLabel("")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        status.addPermanentWidget(self.output_link)
        status.addPermanentWidget(self.time_label)
        status.addPermanentWidget(self.overflow_label)
        # Issue 12 hook: the microphone's measured input latency (app/audio/devices.py).
        self.input_latency_label = QLabel("")
        self.input_latency_label.setObjectName("inputLatencyLabel")
        status.addPermanentWidget(self.input_latency_label)
        status.addPermanentWidget(self.underrun_label)
        status.addWidget(self.folder_label, 1)
        # The clock and the latency change at every poll: at a fixed size a new text repaints
        # the label alone (opaque: not the window behind it either), where a label that may
        # resize lays out and repaints the whole status bar 25 times a second (README "Live
        # latency and idle CPU").
        metrics = self.time_label.fontMetrics()
        height = self.time_label.sizeHint().height()
        for label, widest in (
            (self.time_label, "call ended · t = 00000.00 s"),
            (self.input_latency_label, "input latency: 0000 ms"),
        ):
            label.setFixedSize(metrics.horizontalAdvance(widest) + 8, height)
            label.setAutoFillBackground(True)  # opaque: the window behind is not repainted
        status.messageChanged.connect(self._log_status)

    def _log_status(self, text: str) -> None:
        if text:
            self.app_log.append(f"{time.strftime('%H:%M:%S')} {text}")

    def show_alsa(self, alsa: Any) -> None:
        """The speaker underruns libasound reported (counted, not printed)."""
        if alsa is not None and (alsa.underruns or alsa.other):
            self.underrun_label.setText(f"speaker underruns: {alsa.underruns}")

    def show_session(self, session: LiveSession) -> None:
        """The call's clock, the engine's lag, overflows and input latency."""
        now = session.fed_samples
        lag_s = (session.heard_samples - now) / ENGINE_RATE_HZ
        state = "live" if session.running else "ended"
        self.time_label.setText(f"call {state} · t = {now / ENGINE_RATE_HZ:7.2f} s")
        self.time_label.setToolTip(f"engine lag behind the microphone: {lag_s:.3f} s")
        overflows = session.overflows
        self.overflow_label.setText(f"input overflows: {overflows}")
        style = "color: #c62828;" if overflows else ""
        if self.overflow_label.styleSheet() != style:  # re-polishing costs, even unchanged
            self.overflow_label.setStyleSheet(style)
        latency_s = getattr(session.microphone, "latency_s", None)
        if latency_s is not None:
            self.input_latency_label.setText(f"input latency: {1e3 * latency_s:.0f} ms")

    def show_stall(self, session: LiveSession | None, lost: dict[str, DeviceEvent]) -> None:
        """Banner while a device is lost or the microphone delivers nothing; cleared after."""
        stalled_s = session.stalled_s if session is not None and session.running else 0.0
        mic_lost = lost.get("input")
        speaker_lost = lost.get("output")
        retrying = f"CallSim retries every {RETRY_INTERVAL_S:g} s"
        parts: list[str] = []
        if session is not None and stalled_s > 0.0:
            timeout_s = session.call.config.media_timeout_s
            cause = ""
            advice = "Check the device, or hang up."
            if mic_lost is not None:
                cause = f" ({mic_lost.detail}; {retrying}, attempt {mic_lost.attempts})"
                advice = "Pick another microphone, or hang up."
            parts.append(
                f"The microphone ({session.microphone.name}) has delivered no audio for "
                f"{stalled_s:.1f} s{cause}. The call gets no media meanwhile: Graph fails a "
                f"running operation with 500/8513 after {timeout_s:g} s. {advice}"
            )
        elif mic_lost is not None:
            parts.append(
                f"The microphone ({mic_lost.name}) was lost: {mic_lost.detail}. {retrying}."
            )
        if speaker_lost is not None:
            parts.append(
                f"The speaker ({speaker_lost.name}) was lost: {speaker_lost.detail}. {retrying};"
                " the call goes on without sound. You can pick another output."
            )
        if parts:
            self.banner.show_message(" ".join(parts))
            self._stall_banner_shown = True
        elif self._stall_banner_shown:
            self.banner.show_message(device_banner(self.audio))
            self._stall_banner_shown = False
