"""Delivery: the durable outbox, the notifier interface with its apprise implementation, rate
caps per channel, officers' contact hours, the console channel, and Alertmanager (as a
notifier and as a route)."""
