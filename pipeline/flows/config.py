"""Settings of the scheduled pipeline (cron schedules, limits, retries, retraining).

They come from the environment or ``.env`` like the rest of vivid's settings, with the
``VIVID_`` prefix (e.g. ``VIVID_CRON_INGEST="30 5 * * *"``); they live here because only
the pipeline uses them.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FlowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8",
                                      env_prefix="VIVID_", extra="ignore")

    # schedules served by `vivid serve` (cron, in `timezone`)
    cron_ingest: str = "0 6 * * *"       # daily 06:00
    cron_sync: str = "0 * * * *"         # hourly
    cron_retrain: str = "0 2 * * 0"      # weekly, Sunday 02:00
    cron_report: str = "0 4 * * 0"       # weekly, Sunday 04:00
    timezone: str = "Europe/London"

    # limits so Label Studio and the database are not flooded
    labelstudio_concurrency: int = Field(default=2, ge=1)
    db_concurrency: int = Field(default=4, ge=1)
    http_concurrency: int = Field(default=4, ge=1)

    # retries with exponential backoff, on network steps only
    network_retries: int = Field(default=3, ge=0)
    network_backoff: float = Field(default=2.0, ge=0)  # seconds before the first retry
    http_timeout: float = Field(default=60.0, gt=0)

    # scale-out
    dask_address: str | None = None     # VIVID_DASK_ADDRESS: an existing Dask scheduler
    dask_workers: int = Field(default=2, ge=1)

    # retraining
    retrain_margin: float = Field(default=0.02, ge=0)      # largest drop allowed per field
    retrain_holdout: float = Field(default=0.25, gt=0, lt=1)
    retrain_seed: int = 20240601
    retrain_min_holdout: int = Field(default=10, ge=1)
    retrain_primary: str = "mean"


@lru_cache(maxsize=1)
def flow_settings() -> FlowSettings:
    return FlowSettings()


def reset_flow_settings() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    flow_settings.cache_clear()
