-- Each team's working time as UTC intervals, for the teams that set `working_hours`: for every local day from
-- `working_hours_padding_days` before the first ingested day to as many after the last, on the team's working
-- weekdays, [local start, local end) converted from its time zone to UTC (so daylight-saving changes move the
-- UTC interval). worked_before_seconds = the working seconds of all the team's earlier intervals.
with hours as (
    select * from {{ ref('int_config__working_hours') }}
),

bounds as (
    select min(date) as first_day, max(date) as last_day from {{ ref('int_calendar__days') }}
),

local_days as (
    select days.day as local_date
    from {{ day_series(
        '(select first_day from bounds) - ' ~ days_interval(var('working_hours_padding_days')),
        '(select last_day from bounds) + ' ~ days_interval(var('working_hours_padding_days'))) }} as days
    where days.day is not null
),

local_intervals as (
    select
        h.team,
        h.timezone,
        d.local_date,
        cast(d.local_date as timestamp) + h.start_minute * interval '1 minute' as local_from,
        cast(d.local_date as timestamp) + h.end_minute * interval '1 minute' as local_to
    from local_days as d
    inner join hours as h on cast(extract(isodow from d.local_date) as integer) = h.iso_weekday
),

utc_intervals as (
    select
        team,
        local_date,
        {{ local_to_utc('local_from', 'timezone') }} as work_from,
        {{ local_to_utc('local_to', 'timezone') }} as work_to
    from local_intervals
),

final as (
    select
        team,
        local_date,
        work_from,
        work_to,
        {{ hours_between('work_from', 'work_to') }} * 3600.0 as length_seconds,
        coalesce(sum({{ hours_between('work_from', 'work_to') }} * 3600.0) over (
            partition by team order by work_from rows between unbounded preceding and 1 preceding), 0)
            as worked_before_seconds
    from utc_intervals
)

select * from final
