"""checks.yaml: `schema` (the declarative field types), `model` (the typed, frozen Config)
and `loader` (parse, validate, cross-check). Import from the submodules: probe kinds import
`schema`, and `loader` imports the probe kinds."""
