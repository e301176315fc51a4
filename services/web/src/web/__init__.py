"""Chorus web app: server-rendered pages for employees, over the services' HTTP APIs."""
