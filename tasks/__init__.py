"""The sfp operations, written as workflows."""
