#!/usr/bin/env bash
# System packages the test suite talks to for real. Idempotent; needs root (CI and the dev machines are).
set -euo pipefail

# Headless Chromium and its WebDriver: the scoreboard page is tested in a real browser (tests/scoreboard).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi

# PostgreSQL: tests/execute/test_ray.py stores studies in a throwaway server (request_dse/testing/postgres.py).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
fi
# bubblewrap: validation runs bundles' code in sandboxed children (request_dse/execute/sandbox.py), and
# the tournament service runs each validation job in a sandbox (request_dse/service/sandbox.py).
if ! command -v bwrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap
fi
exit 0
