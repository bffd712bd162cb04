"""Talking to language models: one client interface (base.py), one module per provider kind."""
