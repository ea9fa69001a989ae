"""``python -m summarize.devtools.bench``: the bench command on its own."""

from summarize.devtools.bench import main

main()
