"""What a run writes: results.jsonl, stats.json, the Markdown pages and the HTML report."""
