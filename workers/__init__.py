"""Worker pools and the entry points of every long-lived process (`python -m workers ...`)."""
