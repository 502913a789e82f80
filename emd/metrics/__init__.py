"""The one metrics layer: the catalogue (every metric once) and the window queries that the dashboard,
the Sprint Health card, the Slack posts and the API all ask. No surface computes a number of its own.

- source.py: the published build to read (`open_source`), bound-parameter queries, engine helpers.
- filters.py: `Filters`, `validate` (FilterError naming the parameter), `dimensions` (the ingested calendar).
- catalogue.py: `CATALOGUE` (key, label, unit, better, sample noun, texts), formatting, DORA bands.
- measures.py: `METRIC_SQL` (each catalogue key's domain and aggregate SQL), `period_values`.
- tiles.py: `tiles`, `tile_notes` (re-exports series.py, sprints.py, calendar.py for older callers).
- series.py, sprints.py (sprint tables, blocked issues), calendar.py (previous period, data as of).
"""
