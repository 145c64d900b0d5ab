"""Command-line tools: `tensorgrad-train`, `tensorgrad-evaluate`, `tensorgrad-predict`.

Each module's `main(argv=None) -> int` only turns flags into calls of `tensorgrad.training`.
"""
