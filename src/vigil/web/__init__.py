"""Vigil's web pages, served by `vigil serve`: the review console (``/review``, issue 20).
Server-rendered HTML (Jinja2) with a little plain JavaScript, every asset served by Vigil (no
CDN, no build step), a strict Content Security Policy (:mod:`.security`), usable with the
keyboard alone."""
