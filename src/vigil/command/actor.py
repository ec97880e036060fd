"""Who acts: a signed-in person (from the API's principal) or one of the server's own jobs, as the audit records it."""

from collections.abc import Collection
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """Someone or something that changes or views governed data.

    Attributes:
        user_id: the accountable id the audit records (a user's id, ``system:<job>`` or ``cli:<login>``).
        display_name: the name people are shown (a device's officer sees the reviewer's).
        roles: the roles held (values of :class:`vigil.command.accounts.models.Role`).
        address: the client's network address, when there is one.
    """

    user_id: str
    display_name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    address: str | None = None

    def __post_init__(self) -> None:
        if not self.user_id.strip():
            raise ValueError("an actor needs a non-empty user_id")

    def holds(self, roles: Collection[str]) -> bool:
        """Whether the actor holds any of ``roles``."""
        return not self.roles.isdisjoint(roles)

    @classmethod
    def system(cls, job: str) -> "Actor":
        """One of the server's scheduled jobs."""
        return cls(user_id=f"system:{job}", display_name=f"Vigil ({job})")
