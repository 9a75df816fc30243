"""Servers the project runs itself: the TGI-compatible generator server for CPU machines."""
