"""Where CallSim's bundled files are: prompts, the beep, example scenarios, the icon.

The repository keeps them in the top-level ``resources/`` folder. Every installed form of the
app carries the same folder as package data at ``app/_resources``:

- a wheel: hatchling's ``force-include`` maps ``resources/`` there (pyproject.toml);
- the PyInstaller bundle: the spec puts it at ``_internal/app/_resources`` (packaging/);
- an editable install or a plain checkout has no ``app/_resources``: the checkout's
  ``resources/`` next to the ``app`` package is used instead.

So every caller asks this module (``resource_path("prompts/welcome.wav")``), never a path
relative to a source file. ``importlib.resources`` finds the package's files wherever the
installer put them (site-packages, a tool venv, PyInstaller's ``_internal``). CallSim opens
them as real files (soundfile, Qt), which every one of those installs provides.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE_DATA_DIR = "_resources"  # the wheel's and the bundle's name for resources/
ICON_NAME = "callsim.svg"  # the application icon (window, desktop entry, AppStream)


class ResourcesNotFoundError(FileNotFoundError):
    """Neither the installed package data nor a checkout's resources/ folder exists."""


def resource_root() -> Path:
    """The folder holding the bundled resources (installed package data, else the checkout's)."""
    package = files("app")
    installed = package / PACKAGE_DATA_DIR
    if installed.is_dir():
        return Path(str(installed))
    # Editable install or checkout: app/ sits next to the repository's resources/.
    checkout = Path(str(package)).parent / "resources"
    if checkout.is_dir():
        return checkout
    raise ResourcesNotFoundError(
        f"CallSim's resources are missing: neither {installed} nor {checkout} exists; "
        "reinstall CallSim (the wheel carries them as app/_resources)"
    )


def resource_path(relative: str) -> Path:
    """A bundled file or folder, e.g. ``resource_path("prompts/welcome.wav")``."""
    return resource_root() / relative


def sample_prompts() -> list[Path]:
    """The bundled prompt WAVs, sorted by name."""
    folder = resource_path("prompts")
    return sorted(folder.glob("*.wav")) if folder.is_dir() else []


def example_scenarios() -> list[Path]:
    """The bundled example scenarios (``resources/scenarios/*.toml``), sorted by name."""
    return sorted(resource_path("scenarios").glob("*.toml"))


def icon_path() -> Path:
    """The application's SVG icon."""
    return resource_path(ICON_NAME)
