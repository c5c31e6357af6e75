"""Stack configuration: pydantic models, the loader and pinned versions."""

from config.loader import ConfigError, load_platform, parse_platform
from config.models import PlatformConfig

__all__ = ["ConfigError", "PlatformConfig", "load_platform", "parse_platform"]
