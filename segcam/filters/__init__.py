"""Mask filters, backgrounds and frame filters."""
