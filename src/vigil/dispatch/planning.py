"""How a server plans where to send units: its dispatch settings with the arrival-time model built from them.

Ingestion needs both for an officer's emergency (the units proposed on its first feed entry, the incident moved
with the officer), as the API does: the server builds them once and hands the same to both, so an operator sees
the same proposals on the live feed as after a reload.
"""

from dataclasses import dataclass

from vigil.dispatch.eta import EtaModel
from vigil.dispatch.ranking import build_eta_model
from vigil.dispatch.settings import DispatchSettings


@dataclass(frozen=True)
class DispatchPlanning:
    """The dispatch settings in force and the arrival-time model built from them.

    Attributes:
        settings: areas, ranking, positions' ages, escalation.
        eta_model: how arrival times are estimated (along the streets when a street file is configured).
    """

    settings: DispatchSettings
    eta_model: EtaModel

    @classmethod
    def of(cls, settings: DispatchSettings) -> "DispatchPlanning":
        """Plan with ``settings``, building their arrival-time model.

        Raises:
            RoadNetworkError: the configured street file cannot be used.
        """
        return cls(settings=settings, eta_model=build_eta_model(settings.ranking))
