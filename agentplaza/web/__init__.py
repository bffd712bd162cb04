"""The web app: server-rendered pages (Jinja2) and small ES modules over the /v1 and /chatr
APIs. site.install_web mounts it; cookies.py is the browser credential /v1 accepts."""
