"""``python -m summarize.settings --markdown``: print the README's options table."""

import sys

from summarize.settings.table import markdown_table

if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m summarize.settings --markdown")
    sys.stdout.write(markdown_table())
