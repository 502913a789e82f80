"""SLOs and error budgets: per SLO of the teams in view, the error budget remaining over its window ending at the
range's last day, the day's burn rate and status, and the deployments of the range marked on the burn-down
(each opens its drilldown). Numbers from emd.metrics.slos (docs/metrics.md "SLOs and error budgets")."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app import charts, drill, queries, view
from emd.text import markdown_escape

STATUS_LABELS = {"healthy": "healthy", "at_risk": "at risk", "exhausted": "exhausted", None: "no data"}
# Beyond this many SLOs in view, one table lists them all and only the ones with the least budget left get their
# burn-down (50 charts on one page take seconds to render).
MAX_DETAILED = 12

source, current = view.current()
st.title("SLOs and error budgets")
st.caption(current.describe())

if not queries.slos_available(source):
    st.info("This build has no SLO marts (fct_slo_days, fct_slo_deployment_burn) yet: run the pipeline (dbt build) "
            "with this version.")
    st.stop()

reports = queries.slo_reports(source, current.filters)
if not reports:
    st.info("No team in this view has SLOs. Name OpenSLO files under `slos.files`, or add incident-based SLOs "
            "under `slos.incidents`, in the project config (EMD_CONFIG; config.example.yaml documents them), set "
            "PROMETHEUS_URL for the Prometheus ones, and run the pipeline again.")
    st.stop()


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value:.1f}%"


def deployment_href(deployment_id: str) -> str:
    return "/drilldown?" + urlencode({"deployment": deployment_id, **drill.filter_params(current)})


detailed = reports
if len(reports) > MAX_DETAILED:
    ranked = sorted(reports, key=lambda r: (r.error_budget_remaining_pct is None,
                                            r.error_budget_remaining_pct or 0.0, r.name))
    detailed = ranked[:MAX_DETAILED]
    st.dataframe(pd.DataFrame([{
        "SLO": r.name, "service": r.service, "team": r.team, "target %": r.target * 100,
        "budget remaining %": r.error_budget_remaining_pct, "burn rate": r.burn_rate,
        "status": STATUS_LABELS.get(r.status, r.status), "deployments": len(r.deployments),
    } for r in ranked]), hide_index=True, width="stretch", column_config={
        "budget remaining %": st.column_config.NumberColumn(format="%.1f"),
        "burn rate": st.column_config.NumberColumn(format="%.2f")})
    st.caption(f"{len(reports)} SLOs in view: the {MAX_DETAILED} with the least error budget left are shown below; "
               "choose a team in the sidebar to see the burn-down of each of its SLOs.")

for report in detailed:
    st.subheader(f"{report.name} · {report.service} · {report.team}")
    budget, sli, burn, status = st.columns(4)
    budget.metric("Error budget remaining", _pct(report.error_budget_remaining_pct))
    sli.metric(f"SLI over {report.window_days} days", "no data" if report.sli is None else f"{report.sli * 100:.3f}%",
               help=f"target {report.target * 100:g}%")
    burn.metric(f"Burn rate on {report.as_of.isoformat()}", "no data" if report.burn_rate is None
                else f"{report.burn_rate:.2f}")
    status.metric("Status", STATUS_LABELS.get(report.status, report.status or "no data"))
    days = pd.DataFrame([{"date": pd.Timestamp(d.date), "remaining_pct": d.error_budget_remaining_pct,
                          "burn_rate": d.burn_rate} for d in report.days])
    if days.empty or days["remaining_pct"].isna().all():
        st.caption("No events in the window yet.")
        continue
    by_day = dict(zip(days["date"].dt.date, days["remaining_pct"], strict=True))
    marks = pd.DataFrame([{
        "deployed_at": pd.Timestamp(d.deployed_at), "label": f"{d.repo} {d.deployment_id}",
        "href": deployment_href(d.deployment_id), "burned_pct": d.budget_burned_pct,
        "remaining_pct": by_day.get(d.deployed_at.date()),
    } for d in report.deployments], columns=["deployed_at", "label", "href", "burned_pct", "remaining_pct"])
    st.altair_chart(charts.slo_burn_down(days, marks.dropna(subset=["remaining_pct"]),
                                         f"{report.name}: error budget remaining over the window"), width="stretch")
    if report.deployments:
        lines = []
        for d in report.deployments:
            burned = ("not measured yet" if d.budget_burned_pct is None
                      else f"{d.budget_burned_pct:.1f}% of the budget in the next 24 h")
            lines.append(f"- [{markdown_escape(d.repo)} · {d.deployed_at:%Y-%m-%d %H:%M} UTC]"
                         f"({deployment_href(d.deployment_id)}) · {burned}")
        st.markdown("**Deployments in this range**\n\n" + "\n".join(lines))
    else:
        st.caption("No deployment of this team in the range.")

st.caption("Budget remaining = (1 - (1 - window SLI) / (1 - target)) x 100 over the SLO's rolling window ending on "
           "the range's last day; it goes negative once overspent. Burn rate = (1 - the day's SLI) / (1 - target). "
           "Definitions: docs/metrics.md \"SLOs and error budgets\".")
