"""``python -m qdcat.cli``: the same as the ``qdcat`` console script."""

from qdcat.cli import main

if __name__ == "__main__":
    main()
