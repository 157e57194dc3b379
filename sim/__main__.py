"""``python -m sim``: the xpusim command line."""

from sim.cli import main

if __name__ == "__main__":
    main()
