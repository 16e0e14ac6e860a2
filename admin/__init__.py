"""The web console for country staff: server-rendered FastAPI + Jinja2, no build step."""
