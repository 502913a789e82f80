"""One router per resource: metrics, insights, slack, health."""
