"""One run: groups, resume, model loading and routing, the local and Ray engines, stats."""
