#!/usr/bin/env bash
# Install everything RepairSight needs into ./.venv. Safe to run again: it skips
# the Python install while pyproject.toml and this script are unchanged.
#   scripts/install.sh          what the server needs
#   scripts/install.sh --test   that, plus the test tools and Debian's chromium
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
if [ "${1:-}" = "--test" ]; then with_test=1; fi

apt_install() {
    if [ "$(id -u)" = 0 ]; then
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
    elif command -v sudo >/dev/null; then
        sudo apt-get update -q >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
    else
        echo "Please install these Debian packages first: $*" >&2
        exit 1
    fi
}

if [ "$with_test" = 1 ] && [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium (for the end-to-end tests)"
    apt_install chromium
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv

extras=""
stamp=".venv/.installed"
if [ "$with_test" = 1 ]; then
    extras="[test]"
    stamp=".venv/.installed-test"
fi
want=$(cat pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing Python packages into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -U pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
    # mediapipe without its requirements: only opencv-python-headless may provide cv2
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps mediapipe==1.2.2
    echo "$want" > "$stamp"
fi

.venv/bin/python scripts/build_hand_model.py
