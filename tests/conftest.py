"""Shared fixtures. Real services come from the plugins listed here; none are mocked."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.rtsp",
    "tests.fixtures.live",
    "tests.fixtures.sentinel",
]
