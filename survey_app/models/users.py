"""Users and their roles."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from survey_app.models.base import Base, Timestamped, enum_type


class Role(enum.StrEnum):
    ADMIN = "admin"
    DESIGNER = "designer"
    REVIEWER = "reviewer"
    STATISTICIAN = "statistician"


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_type(Role, "user_role"))
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: Role) -> bool:
        return self.role == Role.ADMIN or self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role.value}>"
