"""Image-classification models."""
