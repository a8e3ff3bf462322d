"""``python -m tenken`` runs the command line."""

from tenken.cli import main

main()
