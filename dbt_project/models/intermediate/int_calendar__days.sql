-- The ingested calendar of any source: every UTC day on which some source's partition was ingested
-- (int_calendar__source_days), not the range between the first and the last. The per-day metric marts use
-- their own source's days (int_calendar__source_days); this union serves what spans sources (agreements,
-- SLOs, the first ingested day of a sprint's history).
select distinct date from {{ ref('int_calendar__source_days') }}
