"""Server-rendered pages for duty officers, responders and supervisors (Jinja2, gettext, no CDN)."""
