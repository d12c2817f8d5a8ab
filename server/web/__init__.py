"""The web layer: HTTP routes, pages and the ``/ws`` endpoint, the only code that imports starlette.

Routes read the request, call records, recordings or the live registry, and present the result
(``presenters.py``); ``errors.py`` turns domain errors into status codes; ``auth.py`` says who is
calling; ``state.py`` hands out the app's services.
"""
