"""Evaluation: metrics, the paper's recognition protocols, reports and plots."""
