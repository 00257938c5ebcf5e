"""Alembic migrations of the service's database (run by :func:`request_dse.service.database.migrate`)."""
