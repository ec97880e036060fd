"""The signed-in person of a request as the services take them (:class:`~vigil.command.actor.Actor`)."""

from vigil.command.actor import Actor
from vigil.command.api.dependencies import Principal


def actor_of(principal: Principal) -> Actor:
    """The actor a principal acts as: its user id for the audit, its name for people, its roles, its address."""
    return Actor(
        user_id=str(principal.user_id),
        display_name=principal.display_name,
        roles=frozenset(role.value for role in principal.roles),
        address=principal.address,
    )
