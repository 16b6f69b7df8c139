"""The `symgrad` command line (the console script is `symgrad.cli:main`).

`main` parses the flags and dispatches to the work: `symgrad.cli.commands`
(derive, verify, train, graph, explain) and `symgrad.cli.demo`.
"""

from .main import EXAMPLES, build_parser, main, sizes_arg

__all__ = ["EXAMPLES", "build_parser", "main", "sizes_arg"]
