from . import marketplace_backend
