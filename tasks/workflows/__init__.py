"""The sfp operations as SDK workflows, by pool: standard, long-running, recurring."""
