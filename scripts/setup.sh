#!/usr/bin/env sh
# Creates .venv (if needed) and installs diffblocks, its test tools and the bundled plugins.
# torch is pinned: on these machines torch==2.13.0 is a local CPU wheel, while an unpinned
# torch pulls several GB of CUDA packages.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --disable-pip-version-check --upgrade pip
$PIP install -q --disable-pip-version-check torch==2.13.0
$PIP install -q --disable-pip-version-check -r requirements-dev.txt
$PIP install -q --disable-pip-version-check -e .
for plugin in plugins/*/; do
    # real installs (not editable, not path hacks): entry points are what pip writes
    [ -f "$plugin/pyproject.toml" ] && $PIP install -q --disable-pip-version-check --no-deps --force-reinstall "$plugin"
done
# the browser test of `diffblocks serve` drives Debian's Chromium with Playwright (Playwright's own
# browser download cannot be used here); installed when missing and we may
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
echo "diffblocks is set up in .venv"
