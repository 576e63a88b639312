#!/usr/bin/env bash
# Remove what install.sh installed, and only that.
#
#   bash packaging/uninstall.sh [--prefix DIR]     (default prefix: ~/.local)
#
# It reads PREFIX/opt/callsim/INSTALLED_FILES (written by install.sh): files and links are
# removed, the bundle folder is removed whole, and folders install.sh created are removed only
# when they are empty again (something else may have been put in them since).
set -euo pipefail

prefix="$HOME/.local"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

dest="$prefix/opt/callsim"
manifest="$dest/INSTALLED_FILES"
if [ ! -f "$manifest" ]; then
  echo "uninstall.sh: no CallSim installed in $prefix (no $manifest)" >&2
  exit 2
fi
mapfile -t entries < "$manifest"

# Newest first: files, then the bundle, then the folders (deepest first).
for (( i=${#entries[@]}-1; i>=0; i-- )); do
  path=${entries[i]}
  if [ "$path" = "$dest" ]; then
    rm -rf -- "$dest"
  elif [ -L "$path" ] || [ -f "$path" ]; then
    rm -f -- "$path"
  elif [ -d "$path" ]; then
    rmdir -- "$path" 2>/dev/null || echo "uninstall.sh: kept $path (not empty)"
  fi
done
echo "CallSim removed from $prefix"
