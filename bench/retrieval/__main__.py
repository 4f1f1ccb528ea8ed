"""``python -m bench.retrieval``."""

from bench.retrieval.run import main

main()
