"""Command-line tools: `tensorgrad COMMAND` (train, evaluate, predict, export, draw; see `cli.main`), and the
same tools as `tensorgrad-train`, `tensorgrad-evaluate`, `tensorgrad-predict`, `tensorgrad-export`.

Each module's `main(argv=None, prog=...) -> int` only turns flags into calls of the library.
"""
