"""Text-classification models."""
