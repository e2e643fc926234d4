"""Siaga: availability monitor and on-call pager for public-service applications."""

__version__ = "0.1.0"
