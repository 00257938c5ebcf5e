"""Reusable test helpers that ship with the package: the fault-injection backend, the backend
conformance suite, and local servers for integration tests."""
