"""Paging: deciding who hears about a change and when (pager, escalation plans, digests,
on-call), what they read (messages, templates), and what they do back (ack tokens, actions)."""
