"""Who is acting: a role, and for department users their department. What each role may see.

A department sees only the orders it is on (lead or assisting); anything else is "not found" to it. The
citizen's name and number are hidden from departments on a confidential order and on a 举报 (report), and
masked in lists, where nobody needs them; the centre sees them (it calls the citizen back).
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.masking import mask_number as mask_number  # the one masking of numbers, for its many users

AGENT, SUPERVISOR, ADMINISTRATOR = "agent", "supervisor", "administrator"
DEPARTMENT_STAFF, DEPARTMENT_ADMIN = "department_staff", "department_admin"
SYSTEM, API = "system", "api"
CENTRE_ROLES = frozenset({AGENT, SUPERVISOR, ADMINISTRATOR, SYSTEM})
DEPARTMENT_ROLES = frozenset({DEPARTMENT_STAFF, DEPARTMENT_ADMIN})
USER_ROLES = (DEPARTMENT_STAFF, DEPARTMENT_ADMIN, SUPERVISOR, ADMINISTRATOR)
HIDDEN = "(保密)"


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    department_id: int | None = None

    @property
    def in_centre(self) -> bool:
        return self.role in CENTRE_ROLES

    @property
    def in_department(self) -> bool:
        return self.role in DEPARTMENT_ROLES

    @property
    def name(self) -> str:
        return f"api:{self.id}" if self.role == API else self.id


SYSTEM_ACTOR = Actor("system", SYSTEM)


def citizen_hidden(actor: Actor, confidential: bool, order_type: str) -> bool:
    return actor.in_department and (confidential or order_type == "report")
