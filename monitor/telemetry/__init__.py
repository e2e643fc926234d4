"""Siaga telling about itself: Prometheus metrics (`metrics`, with the fast text renderer in
`exposition`), structured logs (`logs`), and the dead-man's switch (`deadman`)."""
