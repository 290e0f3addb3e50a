from . import controllers
from . import models
from .fast_intake import install as post_load_fast_intake
