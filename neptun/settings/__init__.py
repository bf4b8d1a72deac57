"""Settings package.

``base`` reads everything from the environment and is what ``manage.py``, ASGI and
WSGI use unless ``DJANGO_SETTINGS_MODULE`` says otherwise; a deployment sets only
environment values. ``test`` adjusts ``base`` for the test suite.
"""
