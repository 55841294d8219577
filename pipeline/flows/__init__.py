"""Prefect flows: ingest, sync, retrain, report, and serving them on schedules."""
