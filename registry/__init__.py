"""The registry: SQLAlchemy models, loading, post-load checks, outcome queries, reports, CLI."""
