"""The in-process :class:`Simulator`: owns the state, the loopback HTTP server thread and the push thread.

>>> with Simulator(seed=1, report_delay=(0, 0)) as sim:          # doctest: +SKIP
...     client = BukaClient(sim.credentials)                      # base_url is sim.url
...     sim.advance(60)                                           # move delivery forward
...     sim.ledger.frame("sms")
"""

from __future__ import annotations

import threading
from typing import Any

from ..credentials import Credentials
from .config import DeliveryModel, Fault, Scenario
from .push import Pusher
from .server import LOOPBACK, Router, SimHTTPServer, serve_in_thread
from .accounts import Account
from .state import SimState


class Simulator:
    """A faithful BUKA API on ``http://127.0.0.1:<port>/v3``.

    Options: ``port`` (0 = any free port), ``seed`` (delivery outcomes and probabilistic faults),
    ``accounts`` (list of :class:`Account` or dicts; default: the ``BUKA_*`` environment variables
    when key and secret are set, else :data:`buka_nb.credentials.DEMO`), ``report_delay`` (min, max
    seconds from submission to a final report), ``clock_offset`` (seconds added to the machine clock),
    ``latency`` (seconds from a request's arrival to its answer, processing included), ``rate_limit``
    (requests/s before -15), ``faults`` and ``scenarios`` (objects, dicts or spec strings, see
    :mod:`.config`), ``delivery`` (:class:`DeliveryModel`), ``push_url`` / ``voice_push_url`` (report
    receivers), ``balance`` (starting balance of every account, overriding theirs), ``push_retries``.
    """

    def __init__(self, port: int = 0, seed: int = 0, accounts: list[Account | dict] | None = None,
                 report_delay: tuple[float, float] = (2.0, 30.0), *, host: str = "127.0.0.1",
                 clock_offset: float = 0.0, latency: float = 0.0, rate_limit: float | None = None,
                 faults: list[Fault | str | dict] = (), scenarios: list[Scenario | str | dict] = (),
                 delivery: DeliveryModel | dict | None = None, push_url: str | None = None,
                 voice_push_url: str | None = None, balance: float | None = None,
                 push_retries: int = 3) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the simulator only listens on loopback (127.0.0.1), not {host!r}")
        self.state = SimState(seed=seed, accounts=accounts, report_delay=report_delay,
                              clock_offset=clock_offset, latency=latency, rate_limit=rate_limit,
                              faults=faults, scenarios=scenarios, delivery=delivery, push_url=push_url,
                              voice_push_url=voice_push_url, balance=balance)
        self.router = Router()
        self.pusher = Pusher(self.state, retries=push_retries)
        self.stopping = threading.Event()  # interrupts latency/slow sleeps on stop()
        self._requested_port = int(port)
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Bind 127.0.0.1 and serve in background threads; returns self."""
        if self._server is None:
            self.stopping.clear()
            self._server = SimHTTPServer(self._requested_port, self)
            self._thread = serve_in_thread(self._server)
            self.pusher.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent). Open keep-alive connections are dropped."""
        server, self._server = self._server, None
        self.stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        self.pusher.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` (or ``POST /_sim/shutdown``); True when stopped."""
        return self.stopping.wait(timeout)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- addresses and accounts ------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>`` (the control API lives at ``base + "/_sim/..."``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The API root to give the client: ``http://127.0.0.1:<port>/v3``."""
        return self.base + "/v3"

    @property
    def account(self) -> Account:
        """The default (first) account, live: its balance changes as messages are charged."""
        return self.state.accounts[self.state.default_key]

    @property
    def accounts(self) -> dict[str, Account]:
        return self.state.accounts

    @property
    def credentials(self) -> Credentials:
        """Credentials of the default account with ``base_url=self.url``: ``BukaClient(sim.credentials)``."""
        return self.credentials_for(self.state.default_key)

    def credentials_for(self, api_key: str) -> Credentials:
        """Credentials for one of the simulator's accounts (by API key), pointed at this simulator."""
        a = self.state.accounts[api_key]
        return Credentials(a.api_key, a.api_secret, sms_app_id=a.sms_app_id, email_app_id=a.email_app_id,
                           voice_app_id=a.voice_app_id, base_url=self.url, source="simulator")

    # -- control ---------------------------------------------------------------------------------
    @property
    def ledger(self):
        """The in-process ledger: ``count(channel, recipient)``, ``frame(channel)``, ``duplicates(channel)``."""
        return self.state.ledger

    def now(self) -> float:
        """Sim time (epoch seconds): machine clock + ``clock_offset`` + everything advanced."""
        return self.state.now()

    def advance(self, seconds: float) -> float:
        """Move the sim clock forward (delivery reports and AI calls progress); returns the new time."""
        return self.state.advance(seconds)

    def configure(self, **options: Any) -> None:
        """Change settings while running; see :meth:`SimState.configure` for the keys."""
        self.state.configure(**options)

    def reset(self) -> None:
        """Back to the start-up configuration: empty ledger, fresh balances, no AI tasks, no faults added."""
        self.state.reset()

    def stats(self) -> dict[str, Any]:
        """What ``GET /_sim/stats`` answers."""
        return self.state.snapshot() | {"pushes": self.pusher.stats()}

    def flush_pushes(self) -> int:
        """POST every report that is final now (and wait for in-flight ones); returns how many were sent."""
        return self.pusher.flush()
