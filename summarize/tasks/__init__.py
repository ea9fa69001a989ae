"""The two tasks, summarize and translate, and how their work is batched: what is asked of a
model, independent of any engine."""
