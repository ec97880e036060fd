"""How long from an operator's dispatch call to the order on the officer's device, over a real broker.

For each run: a private Mosquitto (:mod:`vigil.bench.mosquitto`), ``vigil serve`` in a process of its own on a
new SQLite database, and one MQTT client per unit's device, each subscribed to its own orders. The database is
prepared as a control room would have it (:class:`DispatchScenario`): an operator, a confirmed alert and an open
incident. Then, unit after unit, the operator's call (``POST /api/v1/incidents/{id}/dispatches``) is timed from
just before the request to the order's arrival on the unit's device: the server's transaction, the downlink
outbox, the broker and the device's client, as a dispatch crosses them.
"""

import json
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from vigil.bench.mosquitto import start_broker
from vigil.bench.server_process import BenchUser, server_process, sign_in
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Message
from vigil.errors import VigilError


class PreparedDispatch(BaseModel):
    """A database ready for dispatching: who dispatches, to which incident, which units by which devices."""

    operator: BenchUser
    incident_id: str
    units: list[tuple[str, str]] = Field(description="(unit_id, device_id) of each unit to dispatch.")


class DispatchScenario(Protocol):
    """Prepares a database as a control room would have it (the command line passes the centre's functions)."""

    def prepare(self, url: str, unit_count: int) -> PreparedDispatch:
        """Migrate the database, create an operator, units with devices, a confirmed alert and an open incident."""
        ...


class DispatchToDeviceFigures(BaseModel):
    """From the operator's dispatch call to the order arriving on a device over MQTT."""

    median_ms: float
    p95_ms: float
    max_ms: float
    samples: int = Field(description="Orders timed, all runs.")
    runs: int


class OrderNotDelivered(VigilError):
    """A dispatched order did not reach its device in time."""


def measure_dispatch_to_device(
    *, scenario: DispatchScenario, runs: int = 3, units: int = 10, timeout_s: float = 10.0
) -> DispatchToDeviceFigures:
    """Time ``units`` dispatch calls in each of ``runs`` runs.

    Raises:
        OrderNotDelivered: an order did not arrive within ``timeout_s``.
        ServerDidNotStart, SignInRefused, BrokerUnavailable: the set-up failed.
    """
    samples: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="vigil-bench-dispatch-") as tmp:
            directory = Path(tmp)
            url = f"sqlite:///{directory / 'command.sqlite'}"
            prepared = scenario.prepare(url, units)
            broker = start_broker(directory)
            try:
                with server_process(database_url=url, bus_url=broker.url, directory=directory) as server:
                    samples += _time_dispatches(server.base, broker.host, broker.port, prepared, timeout_s)
            finally:
                broker.stop()
    milliseconds = np.array(samples) * 1000
    return DispatchToDeviceFigures(
        median_ms=float(np.median(milliseconds)),
        p95_ms=float(np.percentile(milliseconds, 95)),
        max_ms=float(milliseconds.max()),
        samples=len(samples),
        runs=runs,
    )


def _time_dispatches(base: str, host: str, port: int, prepared: PreparedDispatch, timeout_s: float) -> list[float]:
    token = sign_in(base, prepared.operator)
    arrived = {device_id: threading.Event() for _, device_id in prepared.units}
    arrival: dict[str, float] = {}
    buses: list[MqttBus] = []

    try:
        for _, device_id in prepared.units:
            bus = MqttBus(MqttSettings(host=host, port=port, client_id=device_id, session_expiry_s=0))
            buses.append(bus)
            bus.subscribe(
                f"vigil/v1/devices/{device_id}/down/dispatch.order", _Receiver(device_id, arrived[device_id], arrival)
            )
        took = []
        for unit_id, device_id in prepared.units:
            request = urllib.request.Request(
                f"{base}/incidents/{prepared.incident_id}/dispatches",
                data=json.dumps({"unit_ids": [unit_id]}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            called = time.monotonic()
            with urllib.request.urlopen(request, timeout=timeout_s):  # the loopback URL of the server started here
                pass
            if not arrived[device_id].wait(timeout_s):
                raise OrderNotDelivered(f"the order for unit {unit_id} did not reach {device_id} in {timeout_s:g} s")
            took.append(arrival[device_id] - called)
        return took
    finally:
        for bus in buses:
            bus.stop()


class _Receiver:
    """Notes when a device's first order arrives."""

    def __init__(self, device_id: str, event: threading.Event, arrival: dict[str, float]) -> None:
        self._device_id = device_id
        self._event = event
        self._arrival = arrival

    def __call__(self, message: Message) -> None:
        if not self._event.is_set():
            self._arrival[self._device_id] = time.monotonic()
            self._event.set()


def dispatch_units_named(count: int) -> Sequence[tuple[str, str]]:
    """(unit_id, device_id) of the benchmark's units."""
    return [(f"bench-unit-{n:02d}", f"bench-radio-{n:02d}") for n in range(1, count + 1)]
