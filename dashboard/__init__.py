"""The FastAPI dashboard: API, pages, auth, audit, clip search and evidence export."""
