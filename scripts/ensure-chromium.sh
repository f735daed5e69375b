#!/usr/bin/env bash
# Makes Debian's headless Chromium available for the docs-page test (/usr/bin/chromium).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    echo "ensure-chromium: chromium is missing and this is not root; install Debian's 'chromium' package" >&2
    exit 1
fi
echo "ensure-chromium: installing Debian's chromium" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
