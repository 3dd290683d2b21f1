"""Benchmarks of the durable engine against plain Celery, on this machine (`make bench`).

They print figures and assert nothing: timings are never asserted in tests (DESIGN.md §10).
"""
