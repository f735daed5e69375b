#!/usr/bin/env bash
# Makes pulp-cli and the pulpcore-client / pulp-file-client bindings available to the tests:
# a virtual environment outside the clone (~/.cache/pith/venv, or $PITH_VENV), created once
# from PyPI and reused while its versions match the pins below.
set -euo pipefail
VENV="${PITH_VENV:-$HOME/.cache/pith/venv}"
PINS=(pulp-cli==0.41.1 pulp-glue==0.41.1 pulpcore-client==3.123.1 pulp-file-client==3.123.1)
STAMP="$VENV/.pith-pins"

if [[ -x "$VENV/bin/pulp" && -f "$STAMP" && "$(cat "$STAMP")" == "${PINS[*]}" ]]; then
    exit 0
fi
echo "ensure-python-tools: creating $VENV (${PINS[*]})" >&2
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}"
echo "${PINS[*]}" > "$STAMP"
