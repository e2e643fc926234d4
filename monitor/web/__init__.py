"""Siaga's HTTP server (aiohttp): metrics, health, JSON API, status page, ack links, pushes."""
