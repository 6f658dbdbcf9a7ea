"""Who is asking: a person signed in to the pages (session cookie), or a machine (API key).

People have the roles of leadflow/users.py; keys the roles of scoring_api/deps.py. What
each may see of the queue and do to a lead is decided here, once, for pages and API alike.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

SESSION_COOKIE = "leadflow_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

SEE_ALL_LEADS = frozenset({"admin", "sales", "manager", "leadership"})
"""Roles that see every open lead (`sales` is the CRM's key)."""
ACT_ON_LEADS = frozenset({"admin", "sales", "manager", "rep", "distributor"})
"""Roles that record what happened to a lead (leadership reads)."""
ASSIGN_LEADS = frozenset({"admin", "sales", "manager"})
"""Roles that hand a lead to anyone; a rep may only claim an unassigned one."""
READ_LEADS = SEE_ALL_LEADS | ACT_ON_LEADS
RUN_SQL = frozenset({"admin", "leadership"})
# the leadership workspace: the KPI board, the reports and their exports
READ_REPORTS = frozenset({"admin", "leadership", "manager"})
"""Roles that run ad-hoc SQL over the marts and save queries (`admin` is also a key's)."""


@dataclass(frozen=True)
class Principal:
    """The caller: `role`, and for a person their name, CRM ids and the session's CSRF token."""

    role: str
    username: str | None = None
    display_name: str | None = None
    rep_id: str | None = None
    distributor_id: str | None = None
    csrf_token: str | None = None

    @classmethod
    def of_session(cls, session: Any) -> Principal:
        """The person signed in to `session` (leadflow/users.py's Session)."""
        user = session.user
        return cls(
            role=user.role,
            username=user.username,
            display_name=user.display_name,
            rep_id=user.rep_id,
            distributor_id=user.distributor_id,
            csrf_token=session.csrf_token,
        )

    @property
    def is_person(self) -> bool:
        return self.username is not None

    @property
    def actor(self) -> str:
        """Who the events this caller records name as their producer's user."""
        return self.username or f"api-key:{self.role}"

    def sees_all(self) -> bool:
        return self.role in SEE_ALL_LEADS

    def may_see(self, lead: dict[str, Any]) -> bool:
        """Whether this caller may open `lead` (a queue row with its owner columns)."""
        if self.sees_all():
            return True
        if self.role == "rep":
            return lead.get("owner_type") is None or (
                lead.get("owner_type") == "rep" and lead.get("rep_id") == self.rep_id
            )
        if self.role == "distributor":
            return (
                lead.get("owner_type") == "distributor"
                and lead.get("distributor_id") == self.distributor_id
            )
        return False

    def scope_sql(self) -> tuple[str, dict[str, Any]]:
        """A condition on lead_queue's owner columns that keeps what this caller may see."""
        if self.sees_all():
            return "true", {}
        if self.role == "rep":
            return (
                "(owner_type is null or (owner_type = 'rep' and rep_id = $scope_id))",
                {"scope_id": self.rep_id},
            )
        if self.role == "distributor":
            return (
                "(owner_type = 'distributor' and distributor_id = $scope_id)",
                {"scope_id": self.distributor_id},
            )
        return "false", {}

    def may_delete_saved_query(self, owner: str) -> bool:
        """Whether this caller may delete a saved query `owner` saved: its own, or any as
        an admin."""
        return self.role == "admin" or owner == self.actor

    def csrf_matches(self, presented: str | None) -> bool:
        """Whether a form or request carries this session's CSRF token (keys need none)."""
        if self.csrf_token is None:
            return True
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.csrf_token.encode()
        )


def cookie_value(cookie_header: str, name: str = SESSION_COOKIE) -> str | None:
    """The value of cookie `name` in a Cookie header, or None."""
    for part in cookie_header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None
