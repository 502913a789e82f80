"""The one metrics layer: the catalogue (every metric once) and the window queries that the dashboard,
the Sprint Health card, the Slack posts and the API all ask. No surface computes a number of its own."""
