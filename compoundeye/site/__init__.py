"""The site file: cameras, doors, schedules, priorities and retention, validated."""

from compoundeye.site.loader import ConfigError, SiteConfigError, load_site
from compoundeye.site.models import (
    Camera,
    Door,
    Location,
    Priorities,
    Schedule,
    Site,
    Zone,
)

__all__ = [
    "Camera",
    "ConfigError",
    "Door",
    "Location",
    "Priorities",
    "Schedule",
    "Site",
    "SiteConfigError",
    "Zone",
    "load_site",
]
