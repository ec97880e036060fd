"""Many simulated devices sending their events over HTTP, each with its own token, on one asyncio loop.

Each device behaves as a body camera's uplink does when it speaks HTTP: its events queue up in order (its outbox),
and one request at a time carries everything waiting (up to ``max_batch`` events) to ``POST /api/v1/events``
with the device's bearer token. The answer names the events committed (now or before), which leave the queue;
rejected ones leave it too, counted with their reason. A request that fails (the server away, a time-out, a
5xx) is tried again after a pause, with the events still queued, so nothing is lost while the server is away.
A refused token ends the run: no retry will fix it.

Events are produced at a fixed rate for the whole fleet, in turn from each device, whether or not the earlier
ones have been acknowledged. An event's latency runs from when it was due to the answer that commits it.
"""

import asyncio
import itertools
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import httpx

from vigil.sim.errors import LoadError, ServerUnreachable
from vigil.sim.mqtt_fleet import EncodedEvent

_RETRY_PAUSE_S = 0.5


@dataclass(frozen=True)
class HttpDevice:
    """A device of the fleet.

    Attributes:
        device_id: its id.
        token: its bearer token (``vigil devices register`` printed it).
        events: its events, ready to send, endless.
    """

    device_id: str
    token: str
    events: Iterator[EncodedEvent]


@dataclass
class _Uplink:
    device: HttpDevice
    queue: deque[tuple[str, bytes, float]] = field(default_factory=deque)  # (id, JSON, due)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class HttpFleet:
    """Devices posting their events to one command centre; see the module's description."""

    def __init__(
        self,
        server_url: str,
        devices: Sequence[HttpDevice],
        *,
        rate: float,
        max_batch: int = 100,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """Prepare the fleet; :meth:`run` sends.

        Args:
            server_url: the command centre, ``http(s)://host:port``.
            devices: the devices, at least one.
            rate: events per second from the whole fleet.
            max_batch: the most events one request carries (the server's limit is 500 by default).
            verify: how an ``https://`` server's certificate is checked: a context trusting the force's CA, or
                True for the system's CAs.

        Raises:
            LoadError: no devices, or a rate or batch size that is not positive.
        """
        if not devices or not rate > 0 or max_batch < 1:
            raise LoadError(
                f"a load needs devices, a positive rate and a batch of at least 1; got {len(devices)} devices, "
                f"{rate} events/s, batches of {max_batch}"
            )
        self._url = server_url.rstrip("/") + "/api/v1/events"
        self._devices = list(devices)
        self._rate = rate
        self._max_batch = max_batch
        self._verify = verify
        self.sent = 0
        """Events produced and handed to their device's uplink."""
        self.acknowledged = 0
        """Events the server answered for: committed (accepted or duplicate) or rejected."""
        self.outcomes: Counter[str] = Counter()
        """Acknowledged events by outcome (accepted, duplicate, rejected)."""
        self.rejections: Counter[str] = Counter()
        """Rejected events by reason."""
        self.retries = 0
        """Requests tried again after a failure."""
        self.latencies: list[tuple[float, float]] = []
        """(due, answered) of every acknowledged event, monotonic seconds."""
        self._uplinks: list[_Uplink] = []
        self._stopping = False
        self._fatal: BaseException | None = None

    @property
    def in_flight(self) -> int:
        """Events produced and not yet answered for."""
        return self.sent - self.acknowledged

    def run(self, seconds: float, *, drain_timeout_s: float, on_tick: Callable[[], None], tick_s: float = 0.25) -> None:
        """Produce events for ``seconds``, then wait up to ``drain_timeout_s`` for the last answers.

        The fleet's event loop runs on a thread of its own, so that the caller may be inside an event loop itself.

        Args:
            seconds: how long to produce events.
            drain_timeout_s: how long to wait afterwards for what is still in flight.
            on_tick: called every ``tick_s`` (for a live display), on the fleet's thread.
            tick_s: seconds between calls of ``on_tick``.

        Raises:
            ServerUnreachable: the server refused a device's token.
        """
        failure: list[BaseException] = []

        def loop() -> None:
            try:
                asyncio.run(self._run(seconds, drain_timeout_s, on_tick, tick_s))
            except BaseException as exc:  # handed to the caller's thread, below
                failure.append(exc)

        thread = threading.Thread(target=loop, name="http-fleet", daemon=True)
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        if self._fatal is not None:
            raise self._fatal

    async def _run(self, seconds: float, drain_timeout_s: float, on_tick: Callable[[], None], tick_s: float) -> None:
        limits = httpx.Limits(max_connections=min(len(self._devices), 256), max_keepalive_connections=256)
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits, verify=self._verify) as client:
            self._uplinks = [_Uplink(device) for device in self._devices]
            senders = [asyncio.create_task(self._send(client, uplink)) for uplink in self._uplinks]
            ticker = asyncio.create_task(self._tick(on_tick, tick_s))
            try:
                await self._produce(seconds)
                deadline = time.monotonic() + drain_timeout_s
                while self.in_flight and time.monotonic() < deadline and self._fatal is None:
                    await asyncio.sleep(0.02)
            finally:
                self._stopping = True
                for task in [*senders, ticker]:
                    task.cancel()
                await asyncio.gather(*senders, ticker, return_exceptions=True)
            on_tick()

    async def _produce(self, seconds: float) -> None:
        started = time.monotonic()
        end = started + seconds
        for number in itertools.count():
            due = started + number / self._rate
            if due >= end or self._fatal is not None:
                return
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif number % 64 == 0:
                await asyncio.sleep(0)  # behind schedule: still let the uplinks send
            uplink = self._uplinks[number % len(self._uplinks)]
            event_id, _, payload = next(uplink.device.events)
            uplink.queue.append((event_id, payload, due))
            uplink.wake.set()
            self.sent += 1

    async def _tick(self, on_tick: Callable[[], None], tick_s: float) -> None:
        while True:
            await asyncio.sleep(tick_s)
            on_tick()

    async def _send(self, client: httpx.AsyncClient, uplink: _Uplink) -> None:
        headers = {"Authorization": f"Bearer {uplink.device.token}", "Content-Type": "application/json"}
        while True:
            await uplink.wake.wait()
            uplink.wake.clear()
            while uplink.queue:
                batch = list(itertools.islice(uplink.queue, self._max_batch))
                body = batch[0][1] if len(batch) == 1 else b"[" + b",".join(p for _, p, _ in batch) + b"]"
                try:
                    response = await client.post(self._url, content=body, headers=headers)
                except httpx.ConnectError as exc:
                    refused = _certificate_refused(exc)
                    if refused is not None:  # trying again cannot help
                        self._fatal = ServerUnreachable(
                            f"the command centre's certificate failed the check ({refused.verify_message}): "
                            "give the force's CA certificate it was issued under (--server-ca)"
                        )
                        return
                    self.retries += 1
                    await asyncio.sleep(_RETRY_PAUSE_S)
                    continue
                except httpx.HTTPError:
                    self.retries += 1
                    await asyncio.sleep(_RETRY_PAUSE_S)
                    continue
                if response.status_code in (401, 403):
                    self._fatal = ServerUnreachable(
                        f"the command centre refused {uplink.device.device_id}'s token ({response.status_code}): "
                        "register the devices on this server's database (--db / --data-dir) or give their tokens"
                    )
                    return
                if response.status_code != 200:
                    self.retries += 1
                    await asyncio.sleep(_RETRY_PAUSE_S)
                    continue
                self._answered(uplink, batch, response.json())

    def _answered(self, uplink: _Uplink, batch: list[tuple[str, bytes, float]], answer: dict[str, object]) -> None:
        now = time.monotonic()
        results = answer.get("results")
        outcomes = {
            str(r.get("event_id")): (str(r.get("outcome")), r.get("reason"))
            for r in (results if isinstance(results, list) else [])
            if isinstance(r, dict)
        }
        for _ in batch:
            event_id, _, due = uplink.queue.popleft()
            outcome, reason = outcomes.get(event_id, ("rejected", "no answer for this event"))
            self.acknowledged += 1
            self.outcomes[outcome] += 1
            if outcome == "rejected":
                self.rejections[str(reason)] += 1
            self.latencies.append((due, now))


def _certificate_refused(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate check that failed under a connection error (httpx → httpcore → ssl), if one did."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None
