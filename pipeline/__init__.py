"""Prefect flows, schedules and the `vivid` CLI: composition only, no domain logic."""
