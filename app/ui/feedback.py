"""What the window tells the user after writing something, and the bug-report bundle.

No Qt here: the status bar shows ``folder_link``'s HTML, and ``bug_report_zip`` is plain file
work, so a test can open the zip it wrote.
"""

from __future__ import annotations

import html
import zipfile
from pathlib import Path

BUG_REPORT_README = """CallSim bug report

session/      the session folder: scenario.toml + caller.wav replay it with
              `callsim run session/scenario.toml --out out`, or open it in the app
              (File > Open scenario or saved session) to watch it live
app.log       what the window said (status messages, banners), in order
doctor.txt    `callsim doctor`: versions, audio devices, folders
"""


def folder_link(path: Path) -> str:
    """HTML for the status bar: a link that opens the folder holding ``path``."""
    folder = path if path.is_dir() else path.parent
    return f'<a href="{folder.resolve().as_uri()}">Open folder</a> ({html.escape(folder.name)})'


def bug_report_zip(session_dir: Path, app_log: str, doctor_text: str, out: Path) -> Path:
    """Zip the session folder, the window's log and ``callsim doctor``'s report into ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("README.txt", BUG_REPORT_README)
        for path in sorted(session_dir.rglob("*")):
            if path.is_file():
                bundle.write(path, Path("session") / path.relative_to(session_dir))
        bundle.writestr("app.log", app_log)
        bundle.writestr("doctor.txt", doctor_text)
    return out
