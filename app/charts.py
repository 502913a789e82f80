"""Altair charts for the pages. Every title carries its unit; every time axis is a UTC day or week."""

from __future__ import annotations

import altair as alt
import pandas as pd

HEIGHT = 260


def _period_axis(grain: str) -> alt.X:
    label = "Week starting (UTC)" if grain == "week" else "Day (UTC)"
    return alt.X("period:T", title=label, axis=alt.Axis(format="%b %d"))


def _with_period(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["period"] = pd.to_datetime(out["period"])
    return out


def _period_bands(grain: str) -> alt.X:
    """Bars sit on one band per day or week (a time axis would draw week bars a day wide)."""
    label = "Week starting (UTC)" if grain == "week" else "Day (UTC)"
    return alt.X("period_label:O", title=label, sort=None, axis=alt.Axis(labelAngle=-45))


def _with_labels(df: pd.DataFrame) -> pd.DataFrame:
    out = _with_period(df)
    out["period_label"] = out["period"].dt.strftime("%b %d")
    return out


def counts_over_time(df: pd.DataFrame, column: str, title: str, grain: str, color: str = "#4c78a8") -> alt.Chart:
    """Bars of a count per day or week."""
    return (
        alt.Chart(_with_labels(df), title=title, height=HEIGHT)
        .mark_bar(color=color)
        .encode(x=_period_bands(grain), y=alt.Y(f"{column}:Q", title="count"),
                tooltip=[alt.Tooltip("period:T", title="period"), alt.Tooltip(f"{column}:Q", title="count")])
    )


def lines_over_time(df: pd.DataFrame, series: dict[str, str], title: str, y_title: str, grain: str) -> alt.Chart:
    """One line per column in `series` ({column: legend label}), e.g. p50 and p90 in hours."""
    long = _with_period(df)[["period", *series]].melt("period", var_name="series", value_name="value")
    long["series"] = long["series"].map(series)
    return (
        alt.Chart(long, title=title, height=HEIGHT)
        .mark_line(point=True)
        .encode(x=_period_axis(grain), y=alt.Y("value:Q", title=y_title),
                color=alt.Color("series:N", title=None),
                tooltip=[alt.Tooltip("period:T", title="period"), "series:N",
                         alt.Tooltip("value:Q", format=".1f")])
    )


def stacked_over_time(df: pd.DataFrame, series: dict[str, str], title: str, y_title: str, grain: str) -> alt.Chart:
    long = _with_labels(df)[["period", "period_label", *series]].melt(
        ["period", "period_label"], var_name="series", value_name="value")
    long["series"] = long["series"].map(series)
    order = list(series.values())
    return (
        alt.Chart(long, title=title, height=HEIGHT)
        .mark_bar()
        .encode(x=_period_bands(grain), y=alt.Y("value:Q", title=y_title, stack="zero"),
                color=alt.Color("series:N", title=None, sort=order),
                order=alt.Order("series_order:Q"),
                tooltip=[alt.Tooltip("period:T", title="period"), "series:N",
                         alt.Tooltip("value:Q", format=".1f")])
        .transform_calculate(series_order=f"indexof({order!r}, datum.series)")
    )


def sprint_scope(df: pd.DataFrame, unit: str) -> alt.Chart:
    """Committed / added / removed / completed / carryover per sprint, side by side."""
    columns = ["committed", "added", "removed", "completed", "carryover"]
    long = df[["sprint_name", "team", *columns]].melt(["sprint_name", "team"], var_name="measure", value_name="value")
    return (
        alt.Chart(long, title=f"Sprint scope ({unit})", height=HEIGHT)
        .mark_bar()
        .encode(x=alt.X("sprint_name:N", title="Sprint", sort=None),
                xOffset=alt.XOffset("measure:N", sort=columns),
                y=alt.Y("value:Q", title=unit),
                color=alt.Color("measure:N", title=None, sort=columns),
                tooltip=["sprint_name:N", "team:N", "measure:N", alt.Tooltip("value:Q", format=".1f")])
    )


def sprint_trend(df: pd.DataFrame, unit: str) -> alt.Chart:
    long = df[["sprint_name", "scope_change_pct", "carryover_pct"]].melt(
        "sprint_name", var_name="series", value_name="value")
    long["series"] = long["series"].map({"scope_change_pct": "scope change", "carryover_pct": "carryover"})
    return (
        alt.Chart(long, title=f"Scope change and carryover per sprint (% of {unit})", height=HEIGHT)
        .mark_line(point=True)
        .encode(x=alt.X("sprint_name:N", title="Sprint (by completion)", sort=None),
                y=alt.Y("value:Q", title="%"), color=alt.Color("series:N", title=None),
                tooltip=["sprint_name:N", "series:N", alt.Tooltip("value:Q", format=".1f")])
    )


def blocked_trend(df: pd.DataFrame) -> alt.Chart:
    data = df.copy()
    data["day"] = pd.to_datetime(data["day"])
    return (
        alt.Chart(data, title="Blocked issues at end of day (count)", height=HEIGHT)
        .mark_area(opacity=0.8)
        .encode(x=alt.X("day:T", title="Day (UTC)", axis=alt.Axis(format="%b %d")),
                y=alt.Y("blocked_issues:Q", title="issues", stack="zero"),
                color=alt.Color("team:N", title="Team"),
                tooltip=["day:T", "team:N", "blocked_issues:Q"])
    )


def agreement_adherence(df: pd.DataFrame) -> alt.Chart:
    """Per rule, how often the agreement held each ISO week (% of the items it applied to)."""
    data = df.dropna(subset=["adherence_pct"]).copy()
    data["week_start"] = pd.to_datetime(data["week_start"])
    data["rule_label"] = data["label"] + data["is_proposed"].map({True: " (proposed)", False: ""})
    return (
        alt.Chart(data, title="How often each agreement held, per week (% of the items it applied to)", height=HEIGHT)
        .mark_line(point=True)
        .encode(x=alt.X("week_start:T", title="Week starting (UTC)", axis=alt.Axis(format="%b %d")),
                y=alt.Y("adherence_pct:Q", title="% held", scale=alt.Scale(domain=[0, 100])),
                color=alt.Color("rule_label:N", title="Rule"),
                strokeDash=alt.StrokeDash("team:N", title="Team"),
                tooltip=["team:N", "rule_label:N", "week_start:T", alt.Tooltip("adherence_pct:Q", format=".1f"),
                         "held_items:Q", "applied_items:Q"])
    )



TIMELINE_PARTS = ("coding", "pickup", "review", "deploy")


def pr_timeline(parts: pd.DataFrame, events: pd.DataFrame) -> alt.LayerChart:
    """One PR as a bar: its coding / pickup / review / deploy parts (`parts`: part, start, end, hours)
    with a tick per event (`events`: event, at) - first commit, opened, ready, each review, merge, deploy."""
    bar = (
        alt.Chart(parts, height=90)
        .mark_bar(height=28)
        .encode(x=alt.X("start:T", title="Time (UTC)", axis=alt.Axis(format="%b %d %H:%M")), x2="end:T",
                color=alt.Color("part:N", title=None, sort=list(TIMELINE_PARTS)),
                tooltip=["part:N", alt.Tooltip("start:T", format="%Y-%m-%d %H:%M"),
                         alt.Tooltip("end:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("hours:Q", format=".1f")])
    )
    ticks = (
        alt.Chart(events)
        .mark_tick(color="black", thickness=2, size=40)
        .encode(x="at:T", tooltip=["event:N", alt.Tooltip("at:T", format="%Y-%m-%d %H:%M")])
    )
    return alt.LayerChart(layer=[bar, ticks], title="Timeline (hours per part in the tooltip)")


def slo_burn_down(days: pd.DataFrame, deployments: pd.DataFrame, title: str) -> alt.LayerChart:
    """One SLO's error budget remaining (%) per day of its window (`days`: date, remaining_pct), the 50/25/0 %
    levels, and a mark per deployment (`deployments`: deployed_at, label, href, remaining_pct) that opens its
    drilldown when clicked."""
    line = (
        alt.Chart(days, height=HEIGHT)
        .mark_line(point=True)
        .encode(x=alt.X("date:T", title="Day (UTC)", axis=alt.Axis(format="%b %d")),
                y=alt.Y("remaining_pct:Q", title="Error budget remaining (%)"),
                tooltip=[alt.Tooltip("date:T", format="%Y-%m-%d"), alt.Tooltip("remaining_pct:Q", format=".1f"),
                         alt.Tooltip("burn_rate:Q", format=".2f")])
    )
    levels = (
        alt.Chart(pd.DataFrame({"level": [50.0, 25.0, 0.0]}))
        .mark_rule(strokeDash=[4, 4], color="#999999")
        .encode(y="level:Q")
    )
    marks = (
        alt.Chart(deployments)
        .mark_point(shape="triangle-up", size=120, filled=True, color="#e45756", cursor="pointer")
        .encode(x="deployed_at:T", y="remaining_pct:Q", href="href:N",
                tooltip=[alt.Tooltip("label:N", title="Deployment"),
                         alt.Tooltip("deployed_at:T", format="%Y-%m-%d %H:%M"),
                         alt.Tooltip("burned_pct:Q", title="Budget burned in 24 h (%)", format=".1f")])
    )
    return alt.LayerChart(layer=[line, levels, marks], title=title)
