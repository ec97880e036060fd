"""Errors of deployments.

Hierarchy::

    VigilError
    └── CommandError
        └── DeploymentError
            ├── UnknownDeployment           no deployment has this id (404)
            ├── AuthorisationRequired       neither the authority's decision nor an urgent start, or both (422)
            ├── InvalidDeployment           its window, area, watchlists or decision cannot be accepted (422)
            ├── WatchlistAlreadyDeployed    a watchlist is in another running deployment for that time (409)
            └── DeploymentStateConflict     the deployment is not in a state that allows this (409)
"""

from vigil.command.errors import CommandError


class DeploymentError(CommandError):
    """Base class of deployment errors.

    Attributes:
        deployment_id: the deployment concerned, when there is one.
    """

    def __init__(self, message: str, *, deployment_id: str | None = None) -> None:
        super().__init__(message)
        self.deployment_id = deployment_id


class UnknownDeployment(DeploymentError):
    """No deployment has this id."""

    def __init__(self, deployment_id: str) -> None:
        super().__init__(
            f"no deployment {deployment_id}; GET /api/v1/deployments lists them", deployment_id=deployment_id
        )


class AuthorisationRequired(DeploymentError):
    """A deployment was asked for without the authority's decision and not as urgent, or as both at once."""


class InvalidDeployment(DeploymentError):
    """Its window, area, watchlists or the decision recorded cannot be accepted; the message says which."""


class WatchlistAlreadyDeployed(DeploymentError):
    """A watchlist asked for is in another running deployment whose window overlaps (a device searches under one).

    Attributes:
        watchlist_id: the watchlist.
        other_deployment_id: the running deployment that has it.
    """

    def __init__(self, message: str, *, watchlist_id: str, other_deployment_id: str) -> None:
        super().__init__(message)
        self.watchlist_id = watchlist_id
        self.other_deployment_id = other_deployment_id


class DeploymentStateConflict(DeploymentError):
    """The deployment is not in a state that allows this action.

    Attributes:
        state: its state.
    """

    def __init__(self, message: str, *, deployment_id: str, state: str) -> None:
        super().__init__(message, deployment_id=deployment_id)
        self.state = state
