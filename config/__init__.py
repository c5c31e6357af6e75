"""Stack configuration: pydantic models, the loader and pinned versions."""

from config.loader import ConfigError, external_artifacts_credentials, load_platform, parse_platform
from config.models import PlatformConfig

__all__ = ["ConfigError", "PlatformConfig", "external_artifacts_credentials", "load_platform", "parse_platform"]
