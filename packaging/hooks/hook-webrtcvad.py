"""PyInstaller hook for ``webrtcvad`` as installed by the ``webrtcvad-wheels`` distribution.

pyinstaller-hooks-contrib's own hook copies the metadata of a distribution named ``webrtcvad``;
CallSim depends on ``webrtcvad-wheels`` (prebuilt wheels of the same module), so that hook
fails the build. This one (packaging/hooks is searched before contrib's hooks) copies the
metadata ``webrtcvad.py`` reads its ``__version__`` from, and names the C extension it imports.
"""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = ["_webrtcvad"]
datas = copy_metadata("webrtcvad-wheels")
