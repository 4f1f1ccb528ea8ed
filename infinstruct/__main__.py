"""``python -m infinstruct`` is the ``infinstruct`` command."""

from infinstruct.cli import main

main()
