"""The site file: cameras, doors, schedules, priorities and retention, validated."""

from compoundeye.site.loader import ConfigError, SiteConfigError, load_site, site_from_mapping
from compoundeye.site.models import (
    Camera,
    Door,
    Location,
    Priorities,
    Schedule,
    Site,
    TimeRange,
    Zone,
)
from compoundeye.site.refs import site_problems

__all__ = [
    "Camera",
    "ConfigError",
    "Door",
    "Location",
    "Priorities",
    "Schedule",
    "Site",
    "SiteConfigError",
    "TimeRange",
    "Zone",
    "load_site",
    "site_from_mapping",
    "site_problems",
]
