#!/usr/bin/env bash
# Install the CallSim bundle like a desktop application, without root.
#
#   bash packaging/install.sh [--prefix DIR] [--bundle DIR]
#
# Default prefix: ~/.local (per user). It copies the bundle to PREFIX/opt/callsim, links
# PREFIX/bin/callsim to its executable, and installs the desktop entry, the AppStream metainfo
# and the SVG icon under PREFIX/share. Every path it creates is listed in
# PREFIX/opt/callsim/INSTALLED_FILES, which uninstall.sh removes and nothing else.
# The bundle: --bundle DIR, else the folder this script is in when it ships inside the bundle
# (the tarball), else the checkout's dist/callsim (packaging/build.sh).
set -euo pipefail

APP_ID=io.github.callsim.CallSim
here=$(cd "$(dirname "$0")" && pwd)
prefix="$HOME/.local"
bundle=""

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --bundle) bundle=${2:?--bundle needs a folder}; shift 2 ;;
    --bundle=*) bundle=${1#--bundle=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$bundle" ]; then
  if [ -x "$here/callsim" ] && [ -d "$here/_internal" ]; then bundle=$here
  else bundle="$here/../dist/callsim"; fi
fi
if [ ! -x "$bundle/callsim" ] || [ ! -d "$bundle/_internal" ]; then
  echo "install.sh: no CallSim bundle at $bundle (build it: bash packaging/build.sh)" >&2
  exit 2
fi
bundle=$(cd "$bundle" && pwd)
meta="$here/linux"  # the desktop entry and metainfo (the bundle carries a copy in linux/)
[ -d "$meta" ] || meta="$bundle/linux"
icon="$bundle/_internal/app/_resources/callsim.svg"
for f in "$meta/$APP_ID.desktop" "$meta/$APP_ID.metainfo.xml" "$icon"; do
  [ -f "$f" ] || { echo "install.sh: missing $f" >&2; exit 2; }
done

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
dest="$prefix/opt/callsim"
if [ -e "$dest" ]; then
  echo "install.sh: $dest exists; run uninstall.sh --prefix $prefix first" >&2
  exit 2
fi

created=()  # every file and folder this run creates, in creation order
make_dir() {  # mkdir -p, recording each folder it creates
  local d=$1 missing=()
  while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do mkdir "$d"; created+=("$d"); done
}

make_dir "$prefix/opt"
cp -a "$bundle" "$dest"
created+=("$dest")

make_dir "$prefix/bin"
link="$prefix/bin/callsim"
if [ -e "$link" ] || [ -L "$link" ]; then
  echo "install.sh: $link exists (another callsim?); leaving it, use $dest/callsim" >&2
else
  ln -s "$dest/callsim" "$link"; created+=("$link")
fi

apps="$prefix/share/applications"
make_dir "$apps"
# The menu's PATH may lack PREFIX/bin: the entry names the executable by its full path.
sed -e "s|^Exec=callsim|Exec=$dest/callsim|" -e "s|^TryExec=callsim|TryExec=$dest/callsim|" \
  "$meta/$APP_ID.desktop" > "$apps/$APP_ID.desktop"
created+=("$apps/$APP_ID.desktop")

make_dir "$prefix/share/metainfo"
cp "$meta/$APP_ID.metainfo.xml" "$prefix/share/metainfo/$APP_ID.metainfo.xml"
created+=("$prefix/share/metainfo/$APP_ID.metainfo.xml")

icons="$prefix/share/icons/hicolor/scalable/apps"
make_dir "$icons"
cp "$icon" "$icons/$APP_ID.svg"
created+=("$icons/$APP_ID.svg")

printf '%s\n' "${created[@]}" > "$dest/INSTALLED_FILES"
echo "CallSim installed in $dest"
echo "  command: $link -> $dest/callsim"
echo "  menu entry: $apps/$APP_ID.desktop"
echo "  remove with: bash $dest/uninstall.sh --prefix $prefix"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "  note: $prefix/bin is not on your PATH" ;; esac
