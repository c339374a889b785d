"""Extension objects, created unbound here and bound to an app by the factory."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from .security import OriginCheckingCSRFProtect


class Base(DeclarativeBase):
    """Base class of every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = OriginCheckingCSRFProtect()
