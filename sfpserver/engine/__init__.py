"""The durable workflow engine: Postgres holds every run's state, Celery carries "run attempt N of step S"."""
