"""Deployment files and the reference-site generator."""
