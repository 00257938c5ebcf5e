"""Why a bundle was rejected: one exception, one reason code per kind of problem."""

from __future__ import annotations

from pathlib import Path

from request_dse.errors import UserError
from request_dse.text import escape

#: reason code -> what it means. Each rejection names the bundle, the file and the rule.
REASONS = {
    "not_found": "the path does not exist",
    "not_a_bundle": "neither a bundle folder (with submission.json) nor a .tar.gz / .tgz / .zip archive",
    "truncated": "the archive is truncated or corrupt",
    "absolute_path": "an archive member has an absolute path",
    "traversal": "an archive member or listed file climbs out of the bundle with '..'",
    "link_escape": "a link points outside the bundle",
    "special_file": "an archive member is neither a file, a folder nor a link (device, fifo)",
    "too_large": "the bundle (or one of its files) is beyond a size or member-count limit",
    "no_checksums": "checksums.sha256 is missing or malformed",
    "missing_file": "a file listed in checksums.sha256 is missing",
    "tampered": "a file's sha256 differs from checksums.sha256",
    "uncovered_file": "a file of the bundle is not covered by checksums.sha256",
    "bad_json": "submission.json or system.json is not valid JSON, or nests too deep",
    "schema": "submission.json or system.json violates the submission schema",
    "unsafe_settings": "the artifact's settings name a key or value its backend's catalog does not allow",
}


class BundleError(UserError):
    """A bundle that must not be used: ``<bundle>: <file>: <rule>`` (exit code 2). The message is
    escaped: a name from the bundle can neither break the line nor drive the terminal."""

    def __init__(self, bundle: str | Path, reason: str, message: str) -> None:
        assert reason in REASONS, reason
        self.bundle = str(bundle)
        self.reason = reason
        self.detail = message
        super().__init__(escape(f"{bundle}: rejected ({reason}): {message}"))
