"""Notebook support: findings, pitfalls, EDA, comparisons, protocols, plots, notebook parameters."""
