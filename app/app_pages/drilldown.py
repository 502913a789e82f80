"""Drilldown: the rows behind a tile, and one deployment, pull request or sprint in full.

The selection is in the URL beside the filters: `?metric=<tile key>` lists the rows the tile was
computed from; `?deployment=<id>`, `?pr=<pr_id or owner/repo#number>` or `?sprint=<id>` opens one (a Slack post's "Open in
the dashboard" lands on `?sprint=`). Outside text (titles, summaries, sprint names) is escaped where
it is rendered as markdown (st.table cells, links) and shown as plain text elsewhere.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app import charts, drill, ui, view
from emd.metrics import catalogue, rows
from emd.metrics.measures import planning_values
from emd.metrics.tiles import tiles
from emd.text import markdown_escape

OPEN_LIMIT = 500  # rows offered in the "open one" picker (the table shows every row)

source, current = view.current()
filters = drill.filters_of(current)
base = drill.filter_params(current)
params = st.query_params


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _when(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")


def _hours(value: Any) -> str:
    number = None if value is None or pd.isna(value) else float(value)
    return "—" if number is None else f"{number:.1f} h"


def _link(label: str, url: str | None) -> str:
    """A markdown link whose text is escaped outside text; plain escaped text without a URL."""
    return f"[{markdown_escape(label)}]({url})" if url else markdown_escape(label)


def _jira_history_url(key: str) -> str | None:
    url = ui.jira_issue_url(key)
    return f"{url}?page=com.atlassian.jira.plugin.system.issuetabpanels:changehistory-tabpanel" if url else None


def _pr_ref_url(ref: str) -> str | None:
    repo, _, number = ref.partition("#")
    return ui.pull_request_url(repo, int(number)) if number.isdigit() else None


def _open(kind: str, value: str, label: str) -> None:
    st.page_link(drill.PAGE, label=label, query_params={**base, **_kept(kind), kind: value})


def _kept(kind: str) -> dict[str, str]:
    """The selection above `kind` (so a PR opened from a deployment can go back to it)."""
    order = ("metric", "sprint", "deployment", "pr")
    keep = order[:order.index(kind)]
    return {k: str(params[k]) for k in keep if k in params}


def _back(without: str) -> None:
    rest = {k: str(params[k]) for k in drill.PARAMS if k in params and k != without}
    if rest:
        st.page_link(drill.PAGE, label="Back", icon=":material/arrow_back:", query_params={**base, **rest})


def _picker(label: str, kind: str, options: list[str], labels: dict[str, str]) -> None:
    """Open one row of a list: the choice goes to the URL (`?<kind>=...`) and the page reruns."""
    if not options:
        return

    def chosen() -> None:
        value = st.session_state.get(f"drill_open_{kind}")
        if value:
            st.query_params[kind] = value

    st.selectbox(label, options[:OPEN_LIMIT], index=None, key=f"drill_open_{kind}", on_change=chosen,
                 format_func=lambda v: labels.get(v, v), placeholder="Choose one to open")
    if len(options) > OPEN_LIMIT:
        st.caption(f"The first {OPEN_LIMIT} of {len(options)} rows can be opened from here, in the table's order.")


def _notes(page: str) -> None:
    for note in drill.quality_notes(source, filters, page):
        if note.count:
            with st.expander(f"Data quality: {note.count} {note.label}"):
                st.dataframe(note.rows, hide_index=True, width="stretch")


# ---------------------------------------------------------------------------------------------
# The rows behind a tile


@st.cache_data(ttl=drill.TTL_SECONDS, show_spinner=False)
def _tile_values(_source: Any, source_key: str, build_id: str, filters: Any, basis: str | None) -> dict[str, Any]:
    return {t.key: t for t in tiles(_source, filters, basis)}


def show_metric(metric_key: str) -> None:
    metric = catalogue.metric(metric_key)
    drill_spec = rows.DRILLS[metric_key]
    st.title(f"Rows behind: {metric.label}")
    st.caption(current.describe())
    tile = _tile_values(source, source.key, source.build_id, filters, current.basis).get(metric_key)
    if tile is not None:
        st.markdown(f"**{metric.label}: {catalogue.format_value(metric, tile.value)}** "
                    f"from {tile.sample_size} {metric.sample_noun}. Recompute it from the rows below: "
                    f"{drill_spec.recompute}.")
    found = drill.tile_rows(source, filters, metric_key)
    if found.empty:
        st.info("No rows in this range.")
        return
    counts = drill.tile_counts(source, filters, metric_key)
    if counts["rows"] > len(found):
        st.caption(f"The table shows the first {len(found)} of {counts['rows']} rows, in its order; the counts "
                   "are over every row.")
    if drill_spec.subject == "deployments":
        st.write(f"{counts['rows']} deployments · {counts['failed']} failed · {counts['rework']} rework · "
                 f"{counts['recovered']} recovered")
        st.dataframe(found, hide_index=True, width="stretch", column_config={
            "deployed_at": st.column_config.DatetimeColumn("Deployed (UTC)"),
            "recovered_at": st.column_config.DatetimeColumn("Recovered (UTC)"),
            "recovery_hours": st.column_config.NumberColumn("Recovery (h)", format="%.1f")})
        ids = [str(d) for d in found["deployment_id"]]
        labels = {str(r.deployment_id): f"{r.repo} · {_when(r.deployed_at)} · {'failed' if r.is_failure else 'ok'}"
                  for r in found.itertuples()}
        _picker("Open a deployment", "deployment", ids, labels)
        _notes("delivery")
    elif drill_spec.subject == "pull_requests":
        st.write(f"{counts['rows']} pull requests")
        st.dataframe(found, hide_index=True, width="stretch", column_config={
            "created_at": st.column_config.DatetimeColumn("Opened (UTC)"),
            "merged_at": st.column_config.DatetimeColumn("Merged (UTC)"),
            "deployed_at": st.column_config.DatetimeColumn("Deployed (UTC)"),
            "lead_time_hours": st.column_config.NumberColumn("Lead time (h)", format="%.1f"),
            "cycle_time_hours": st.column_config.NumberColumn("Cycle time (h)", format="%.1f"),
            "time_to_first_review_hours": st.column_config.NumberColumn("To first review (h)", format="%.1f")})
        labels = {str(r.pr_id): f"{r.repo}#{r.number} · {r.title}" for r in found.itertuples()}
        _picker("Open a pull request", "pr", [str(p) for p in found["pr_id"]], labels)
        _notes("delivery" if drill_spec.domain == "deployed_prs" else "flow")
    else:
        st.write(f"{counts['rows']} completed sprints")
        st.dataframe(found, hide_index=True, width="stretch", column_config={
            "start_at": st.column_config.DatetimeColumn("Started (UTC)"),
            "completed_at": st.column_config.DatetimeColumn("Completed (UTC)")})
        labels = {str(r.sprint_id): f"{r.sprint_name} · {r.team}" for r in found.itertuples()}
        _picker("Open a sprint", "sprint", [str(s) for s in found["sprint_id"]], labels)
        _notes("planning")


# ---------------------------------------------------------------------------------------------
# One deployment

SOURCE_WORDS = {
    "merge": "a pull request merged into the default branch ({ref})",
    "release": "a published GitHub release (tag {ref})",
    "deployment": "a successful GitHub deployment (environment {ref})",
    "workflow": "a successful GitHub Actions run ({ref})",
}


def show_deployment(deployment_id: str) -> None:
    found = rows.deployment(source, deployment_id)
    if found is None or not current.filters.allows(found["team"]):  # out of scope: as if it did not exist
        st.title("Deployment")
        st.warning("No deployment with this id among the teams you can see.")
        return
    st.title(f"Deployment of {found['repo']}")
    _back("deployment")
    words = SOURCE_WORDS.get(str(found["source"]), "{ref}").format(ref=_text(found.get("source_ref")) or "—")
    st.text(f"When: {_when(found['deployed_at'])}\nWhy it is a deployment: {words} "
            f"(deployments.source = {found['source']})\nTeam: {found['team']}\nId: {deployment_id}")
    status = "failed" if found["is_failure"] else "not failed"
    recovery = (f"recovered at {_when(found['recovered_at'])}, {_hours(found['recovery_hours'])} after it"
                if found.get("recovered_at") is not None and not pd.isna(found["recovered_at"])
                else ("not recovered yet" if found["is_failure"] else "nothing to recover"))
    st.text(f"Status: {status} ({int(found['failure_signals'] or 0)} failure signal(s) attributed)"
            f"{' · rework (ships a hotfix or revert)' if found['is_rework'] else ''} · {recovery}")

    st.subheader("Pull requests it shipped")
    prs = rows.deployment_pull_requests(source, deployment_id)
    if prs.empty:
        st.info("Data quality: this deployment shipped no merged PR - it counts as a deployment and adds no "
                "lead time.")
    else:
        st.table(pd.DataFrame({
            "PR": [_link(f"{r.repo}#{r.number}", ui.pull_request_url(r.repo, r.number)) for r in prs.itertuples()],
            "Title": [markdown_escape(r.title) for r in prs.itertuples()],
            "Type": [str(r.pr_type) for r in prs.itertuples()],
            "Merged (UTC)": [_when(r.merged_at) for r in prs.itertuples()],
            "Lead time": [_hours(r.lead_time_hours) if not r.has_negative_lead_time
                          else "excluded (clock skew)" for r in prs.itertuples()],
        }))
        for r in prs.itertuples():
            _open("pr", str(r.pr_id), f"Open {r.repo}#{r.number}")

    st.subheader("Failure signals attributed to it")
    signals = rows.deployment_signals(source, deployment_id)
    if signals.empty:
        st.caption("None: no hotfix, revert or incident was attributed to this deployment.")
    else:
        records = signals.to_dict("records")
        st.table(pd.DataFrame({
            "Signal": [str(s["signal_kind"]) for s in records],
            "What": [_link(str(s["signal_ref"]), _signal_url(s)) for s in records],
            "At (UTC)": [_when(s["signal_at"]) for s in records],
            "Why it counts here": [markdown_escape(rows.attribution_reason(s)) for s in records],
            "Recovered": [_when(s["recovery_at"]) for s in records],
        }))
        st.caption("A failure signal is attributed to the latest deployment of the same repo strictly before "
                   "it, if that deployment is at most the window's days earlier (docs/metrics.md). The "
                   "deployment's recovery is the earliest recovery of its signals.")


def _signal_url(signal: dict[str, Any]) -> str | None:
    ref = str(signal["signal_ref"])
    if signal.get("signal_source") == "jira":
        return ui.jira_issue_url(ref)
    if signal.get("signal_source") == "pagerduty":
        return None
    return _pr_ref_url(ref)


# ---------------------------------------------------------------------------------------------
# One pull request


def show_pull_request(pr_ref: str) -> None:
    pr = rows.pull_request(source, pr_ref)
    if pr is None or not current.filters.allows(pr["team"]):  # out of scope: as if it did not exist
        st.title("Pull request")
        st.warning("No pull request with this id (a node id, or owner/repo#number) among the teams you can see.")
        return
    pr_id = str(pr["pr_id"])
    st.title(f"Pull request {pr['repo']}#{pr['number']}")
    _back("pr")
    st.text(pr["title"])
    url = ui.pull_request_url(pr["repo"], pr["number"])
    st.markdown(f"{_link('Open on GitHub', url)} · {_link('commits', url + '/commits')} · "
                f"{_link('files', url + '/files')}")
    size = int(pr["additions"] or 0) + int(pr["deletions"] or 0)
    st.text(f"Author: {pr['author']} · type: {pr['pr_type']} · size: {size} lines "
            f"(+{pr['additions']} / -{pr['deletions']}) · state: {pr['state']} · {pr['head_branch']} → "
            f"{pr['base_branch']} · team: {pr['team']}")
    reviews = rows.pull_request_reviews(source, pr_id)
    parts = rows.timeline_parts(pr)
    events = [("first commit", pr["first_commit_at"]), ("opened", pr["created_at"]), ("ready", pr["ready_at"]),
              ("first review", pr["first_review_at"])]
    events += [(f"review: {r.reviewer} {r.state}", r.submitted_at) for r in reviews.itertuples()]
    events += [("merged", pr["merged_at"]), ("deployed", pr["deployed_at"])]
    known = [(e, at) for e, at in events if at is not None and not pd.isna(at)]
    if parts:
        parts_df = pd.DataFrame([{"part": p.name, "start": p.start, "end": p.end, "hours": p.hours} for p in parts])
        events_df = pd.DataFrame([{"event": e, "at": pd.Timestamp(at)} for e, at in known])
        st.altair_chart(charts.pr_timeline(parts_df, events_df), width="stretch")
    st.table(pd.DataFrame({
        "Part": [p.name for p in parts],
        "From (UTC)": [_when(p.start) for p in parts],
        "To (UTC)": [_when(p.end) for p in parts],
        "Hours": [f"{p.hours:.1f}" for p in parts],
    }))
    st.table(pd.DataFrame({"Event": [markdown_escape(e) for e, _ in known],
                           "At (UTC)": [_when(at) for _, at in known]}))
    st.text(f"Cycle time {_hours(pr['cycle_time_hours'])} · lead time {_hours(pr['lead_time_hours'])} · "
            f"time to first review {_hours(pr['time_to_first_review_hours'])} · "
            f"{pr['review_count']} counted review(s) by {pr['reviewers']} reviewer(s), "
            f"{pr['review_comment_count']} inline comment(s) · reopened {pr['reopened_count']} time(s)")
    if pr["has_negative_lead_time"]:
        st.warning("Data quality: its first commit is dated after its deployment (author clock skew): "
                   "the lead time is left out of the metric.")
    if pr["is_merged_without_review"]:
        st.warning("Data quality: merged without a review by anyone but the author or a bot - it has no "
                   "time to first review.")
    if pr.get("deployment_id"):
        _open("deployment", str(pr["deployment_id"]), "Open the deployment that shipped it")
    if not reviews.empty:
        with st.expander(f"{len(reviews)} submitted review(s)"):
            st.dataframe(reviews, hide_index=True, width="stretch")


# ---------------------------------------------------------------------------------------------
# One sprint

ROLE_WORDS = {
    "committed": "Committed (in the sprint at its start; points at the start)",
    "added": "Added (entered after the start; points when it entered)",
    "removed": "Removed (left before completion, not Done; points when it left)",
    "removed_done": "Left while Done (not scope change)",
    "completed": "Completed (Done at completion; points at completion)",
    "carryover": "Carried over (not Done at completion; points at completion)",
}


def show_sprint(sprint_id: str) -> None:
    found = rows.sprint(source, int(sprint_id)) if sprint_id.isdigit() else None
    if found is None or not current.filters.allows(found["team"]):  # out of scope: as if it did not exist
        st.title("Sprint")
        st.warning("No sprint with this id among the teams you can see.")
        return
    st.title(f"Sprint: {found['sprint_name']}")
    _back("sprint")
    st.text(f"Team: {found['team']} · board {found['board_id']} · {found['state']} · "
            f"started {_when(found['start_at'])} · "
            f"{'completed ' + _when(found['completed_at']) if found.get('completed_at') is not None and not pd.isna(found['completed_at']) else 'ends ' + _when(found['end_at'])}")
    if not found["history_complete"]:
        st.warning("Data quality: this sprint started before the first ingested day - issues not updated since "
                   "may be missing, so it is left out of the planning tiles.")
    issues = rows.sprint_issues(source, int(sprint_id))
    totals = []
    for role in ("committed", "added", "removed", "completed", "completed_committed", "carryover"):
        totals.append({"": role.replace("_", " "), "points": f"{float(found[f'{role}_points'] or 0):g}",
                       "issues": str(int(found[f"{role}_issues"] or 0))})
    st.table(pd.DataFrame(totals).set_index(""))
    # The sprint's ratios on its own basis, from the catalogue's SQL (the planning tiles' formulas).
    basis = str(found["planning_basis"])
    ratios = planning_values(found, basis)
    if ratios["planned_vs_done_pct"] is not None:
        def n(role: str) -> str:
            return f"{float(found[f'{role}_{basis}'] or 0):g}"

        def pct(key: str) -> str:
            value = ratios[key]
            return "—" if value is None else f"{value:.1f}%"
        st.text(f"By {basis}: planned vs done = {n('completed_committed')} / {n('committed')} = "
                f"{pct('planned_vs_done_pct')} · scope change = ({n('added')} + {n('removed')}) / {n('committed')} = "
                f"{pct('scope_change_pct')} · carryover = {n('carryover')} / ({n('completed')} + {n('carryover')}) = "
                f"{pct('carryover_pct')}")
    if issues.empty:
        st.info("No issue rows for this sprint in the build.")
        return
    unestimated = issues.loc[issues["is_unestimated"], "issue_key"].nunique()
    if unestimated:
        st.warning(f"Data quality: {ui.counted(unestimated, 'issues')} without an estimate at the moment that counts "
                   "(0 points; counted by issue count).")
    for role, words in ROLE_WORDS.items():
        part = issues[issues["role"] == role]
        if part.empty:
            continue
        points = float(part["story_points"].fillna(0).sum())
        st.subheader(f"{words}: {ui.counted(len(part), 'issues')}, {points:g} points")
        st.table(pd.DataFrame({
            "Issue": [_link(str(r.issue_key), ui.jira_issue_url(str(r.issue_key))) for r in part.itertuples()],
            "Summary": [markdown_escape(_text(r.summary)) for r in part.itertuples()],
            "Points": ["no estimate" if r.is_unestimated else f"{float(r.story_points):g}" for r in part.itertuples()],
            "Measured at (UTC)": [_when(r.measured_at) for r in part.itertuples()],
            "Placed by": [_placed_by(r) for r in part.itertuples()],
        }))


def _placed_by(r: Any) -> str:
    if not r.placed_by_field or pd.isna(r.placed_by_field):
        return "in the sprint since it was created (no changelog entry)"
    what = "Sprint" if r.placed_by_field == "sprint" else "Status"
    change = f"{what}: {_text(r.placed_by_from) or '(none)'} → {_text(r.placed_by_to) or '(none)'}"
    return _link(f"{change} at {_when(r.placed_by_changed_at)} (history {r.placed_by_history_id})",
                 _jira_history_url(str(r.issue_key)))


# ---------------------------------------------------------------------------------------------
# Which view


def show_index() -> None:
    st.title("Drilldown")
    st.caption(current.describe())
    st.write("Open the rows behind a number:")
    for key in rows.DRILLS:
        st.page_link(drill.PAGE, label=catalogue.metric(key).label, query_params={**base, "metric": key})


if params.get("pr"):
    show_pull_request(str(params["pr"]))
elif params.get("deployment"):
    show_deployment(str(params["deployment"]))
elif params.get("sprint"):
    show_sprint(str(params["sprint"]))
elif params.get("metric"):
    key = str(params["metric"])
    if key in rows.DRILLS:
        show_metric(key)
    else:
        st.warning(f"Ignored `?metric={markdown_escape(params['metric'])}` from the link: not a metric with rows.")
        show_index()
else:
    show_index()
