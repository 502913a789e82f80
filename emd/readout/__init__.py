"""Executive readouts: a month or quarter of the metrics layer as a deck (PowerPoint, Google Slides) or
a Notion page. content.py decides what is said (every number from emd.metrics), summary.py the
executive summary, and one writer per destination renders it."""
