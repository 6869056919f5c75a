"""Tabular classification and regression models."""
