#!/usr/bin/env bash
# System packages the test suite talks to for real. Idempotent; needs root (CI and the dev machines are).
set -euo pipefail
exit 0
