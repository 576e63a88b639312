"""Guards against a broken Qt binding: PySide6 6.12.0 drops a reference to None per call.

On Python 3.11 (where None is not immortal) every void-returning PySide6 6.12.0 method
(``QLabel.setText``, ``QPainter.drawLine``, ``QWidget.update`` ...) decremented None's
reference count; a painted window crashed within seconds with "Fatal Python error:
none_dealloc". pyproject.toml therefore requires PySide6-Essentials < 6.12.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QLabel

CALLS = 2000


def test_void_calls_keep_none_alive(qapp) -> None:
    label = QLabel()
    image = QImage(16, 16, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        label.setText("x")
        painter.drawLine(QPointF(0, 0), QPointF(1, 1))
        painter.setPen(QColor("#ffffff"))
    painter.end()
    # A few references may be taken by caches; thousands lost means the binding is broken.
    assert sys.getrefcount(None) - before > -CALLS // 10
