-- MetricFlow's time spine (dbt semantic layer): one row per UTC day, 2020 .. 2030.
select cast(d as date) as date_day
from generate_series(cast('2020-01-01' as date), cast('2030-12-31' as date), interval '1 day') as t(d)
