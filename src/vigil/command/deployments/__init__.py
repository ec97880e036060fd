"""Deployments: each use of live face recognition as an authorised record (EU AI Act Art 5(1)(h), 5(2)–(7))."""
