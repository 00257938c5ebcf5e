#!/usr/bin/env bash
# System packages the test suite talks to for real. Idempotent; needs root (CI and the dev machines are).
set -euo pipefail

# Headless Chromium and its WebDriver: the scoreboard page is tested in a real browser (tests/scoreboard).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi
exit 0
