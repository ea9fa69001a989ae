"""``python -m summarize``: the same command line as ``summarize``."""

from summarize.cli import main

if __name__ == "__main__":  # a process started by spawn (vLLM's engine) imports this again
    main()
