"""Evaluation: metrics (ranks, tie policies), the one evaluator, uncertainty (bootstrap)."""
