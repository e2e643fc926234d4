"""Alerting: deciding who hears about a change (router), keeping messages safe until sent
(outbox), and sending them (notifiers, templates)."""
