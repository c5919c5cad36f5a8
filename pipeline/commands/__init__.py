"""One module per `gencheck` subcommand: each has `register(subparsers)` and keeps its work in the library."""
