"""Use cases, one module per family, shared by the web pages, the API, the CLI and the jobs.

Services flush; the caller (a view, a command, a job) commits once.
"""
