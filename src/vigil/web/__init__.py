"""Vigil's browser pages, built from ``web/`` (TypeScript) into ``dist/<page>/``, and how to find them."""
