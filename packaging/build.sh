#!/usr/bin/env bash
# Build the one-folder desktop bundle: dist/callsim/ (executable dist/callsim/callsim) and the
# tarball dist/callsim-<version>-<os>-<arch>.tar.gz. Run from anywhere: `bash packaging/build.sh`.
# PyInstaller comes from the `packaging` dependency group, not from the runtime dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_BUNDLE_MB=250  # the bundle's budget (packaging/README.md); the build fails above it

version=$(uv run --no-sync python -c \
  "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
os_name=$(uname -s | tr '[:upper:]' '[:lower:]')
arch=$(uname -m)

start=$(date +%s)
uv run --group packaging pyinstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/callsim.spec
elapsed=$(( $(date +%s) - start ))

# The installer travels with the bundle, so the tarball alone installs: tar xf, then
# callsim/install.sh (it finds the bundle it sits in and its linux/ files).
cp packaging/install.sh packaging/uninstall.sh dist/callsim/
mkdir -p dist/callsim/linux
cp packaging/linux/io.github.callsim.CallSim.desktop \
  packaging/linux/io.github.callsim.CallSim.metainfo.xml dist/callsim/linux/

tarball="dist/callsim-${version}-${os_name}-${arch}.tar.gz"
tar -C dist -czf "$tarball" callsim

bundle_mb=$(du -sm dist/callsim | cut -f1)
tar_mb=$(du -sm "$tarball" | cut -f1)
echo "built dist/callsim in ${elapsed} s: ${bundle_mb} MB; ${tarball}: ${tar_mb} MB"
echo "largest parts:"
# awk reads to the end: `head` would close the pipe while sort still writes, and sort's SIGPIPE
# (exit 141) fails the build under pipefail, depending on timing.
du -sm dist/callsim/_internal/* | sort -rn | awk 'NR <= 8 { print "  " $0 }'
if [ "$bundle_mb" -gt "$MAX_BUNDLE_MB" ]; then
  echo "build.sh: the bundle is ${bundle_mb} MB, over the ${MAX_BUNDLE_MB} MB budget" >&2
  exit 1
fi
