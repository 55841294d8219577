"""Settings from the environment or a local ``.env`` file (never from the repo).

One object, read once per process; every layer takes what it needs from here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=PROJECT_ROOT / "data", alias="VIVID_DATA_DIR")
    database_url: str | None = Field(default=None, alias="VIVID_DATABASE_URL")
    registry_dir: Path | None = Field(default=None, alias="VIVID_REGISTRY_DIR")
    codebook_path: Path | None = Field(default=None, alias="VIVID_CODEBOOK")

    label_studio_url: str = Field(default="http://127.0.0.1:8080", alias="LABEL_STUDIO_URL")
    label_studio_username: str = Field(default="admin@vivid.local",
                                       alias="LABEL_STUDIO_USERNAME")
    label_studio_password: str | None = Field(default=None, alias="LABEL_STUDIO_PASSWORD")
    label_studio_token: str | None = Field(default=None, alias="LABEL_STUDIO_USER_TOKEN")
    label_studio_project: str = Field(default="vivid examples", alias="VIVID_LS_PROJECT")

    inbox_dir: Path | None = Field(default=None, alias="VIVID_INBOX")
    feed: str | None = Field(default=None, alias="VIVID_FEED")

    @property
    def db_url(self) -> str:
        """The database URL: ``VIVID_DATABASE_URL`` or a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vivid.sqlite').as_posix()}"

    @property
    def models_dir(self) -> Path:
        return self.registry_dir or PROJECT_ROOT / "models" / "registry"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
