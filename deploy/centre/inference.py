"""The capability centre (能力中心): authenticated, metered, visibility-checked inference.

This is the request path without HTTP: key → tenant → rate and quota → component (visible or
404) → version (production, explicit, or canary) → resident runtime → validated inputs → outputs →
usage counters. The gateway (``deploy/centre/gateway.py``) puts HTTP around it and Ray Serve runs it;
nothing on this path writes to a database (usage is flushed in the background).
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from deploy.centre.batching import Batcher
from deploy.centre.drift import MIN_ROWS, DriftMonitor
from deploy.centre.errors import (
    BadRequest,
    Gone,
    NotFound,
    NotReady,
    OperatorOnly,
    QuotaExceeded,
    RateLimited,
    RegistryUnavailable,
    ServeError,
    StepFailed,
)
from deploy.centre.keycheck import KeyCheck
from deploy.centre.metrics import Metrics
from deploy.centre.oip import Caps
from deploy.centre.payloads import PayloadSampler
from deploy.centre.resident import LoadEvent, ResidentModels
from deploy.centre.routing import Canary, Route
from deploy.centre.runtimes import PipelineRuntime, Runtime, open_runtime
from deploy.db import migrate, open_engine, utcnow
from deploy.metering import Meter, UsageFlusher
from deploy.settings import PlatformSettings
from deploy.tenancy import Principal, RateLimits, Role, TenantKind, TenantStore, can_see, check_quota
from model_hub import Card, ComponentInfo, HubSettings, Registry, ServingPolicy, Version
from model_hub.card import NUMPY_DTYPES, SLUG, TensorSpec
from model_hub.errors import ComponentNotFound, HubError
from model_hub.reference_stats import read_reference

log = logging.getLogger("brain.centre")

#: The component label of a call that named no component the caller may use (unknown, invisible or
#: not a valid name): the meter, the usage table and Prometheus see only real names and this one.
UNKNOWN = "-unknown-"

#: Component names are slugs of at most this many characters (model_hub.card.SLUG).
MAX_NAME = 64

#: How often component routes (aliases, canary, visibility, serving policy) are re-read from MLflow.
ROUTE_TTL_S = 2.0

#: A call that finds no component, or no active version, in memory asks MLflow again at most this often
#: per name: a component registered since the last pass serves at once, not up to ROUTE_TTL_S later.
MISS_RECHECK_S = 0.25


MLFLOW_CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}
"""MLflow's REST client in a replica. Its defaults retry a refused connection 7 times with exponential
backoff: a call for a component not yet known waited 247 s (measured) while the MLflow server was down;
with these it gets RegistryUnavailable (503) within seconds."""

REGISTRY_DOWN: tuple[type[BaseException], ...] = (OSError, MlflowException, SQLAlchemyError)
"""What a registry that cannot be reached raises (a refused connection, MLflow's REST client giving up, its
database gone or locked); the registry's own refusals are HubErrors."""


@dataclass(frozen=True)
class Component:
    """What the gateway needs to know about a component, cached for ROUTE_TTL_S."""

    card: Card
    route: Route | None  # None: no servable version
    active: frozenset[int]
    deprecated: bool
    fetched: float = field(default=0.0, compare=False)
    serving: ServingPolicy = field(default_factory=ServingPolicy)
    versions: dict[int, Version] = field(default_factory=dict, compare=False)
    replaced_by: str | None = None
    aliases: dict[str, int] = field(default_factory=dict, compare=False)
    """Alias → version (what a pipeline's step that names an alias runs)."""


class Centre:
    """One per replica. Thread-safe."""

    def __init__(
        self,
        registry: Registry,
        tenants: TenantStore,
        settings: PlatformSettings,
        *,
        # Small components cost kilobytes: the memory bound of ResidentModels is the one that bites.
        max_models: int = 512,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.registry = registry
        self.tenants = tenants
        self.settings = settings
        self.metrics = Metrics()
        self.meter = Meter()
        self.flusher = UsageFlusher(self.meter, tenants.engine, settings.usage_flush_seconds)
        self.keys = KeyCheck(tenants, settings)
        self.limits = RateLimits(settings.default_rate_per_second, settings.default_burst)
        self.caps = Caps(settings.max_tensor_elements, settings.max_bytes_elements, settings.max_rows)
        self.models = ResidentModels(self._load, max_models=max_models, on_load=self._loaded)
        self._components: dict[str, Component | None] = {}
        self._missed: dict[str, float] = {}
        self._routes_fresh = False
        """Whether the refresher's last pass read the registry (False before the first, and while down)."""
        """Per name, when a call last asked MLflow for it because memory had no component or no route."""
        self._stop_routes = threading.Event()
        self._routes_thread = threading.Thread(target=self._refresh_routes, name="routes", daemon=True)
        # Merged batches run here, so the event loop reads the next requests while a model computes.
        self._batch_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch")
        # Cold calls (a model to load) run here. Loading is CPU-bound under the GIL: two threads keep
        # the event loop's share high, where the default pool's six thrashed it (p99 of a 500-component
        # Zipf stream: 64 ms with six, see bench/serving.py).
        self.cold_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cold")
        self._batchers: dict[tuple[str, int], tuple[Runtime, ServingPolicy, Batcher]] = {}
        # Per resident version with training statistics: its traffic's histograms (deploy/centre/drift.py).
        self.drift: dict[tuple[str, int], DriftMonitor] = {}
        self._drift_every = max(1, round(1 / settings.drift_sample_rate)) if settings.drift_sample_rate else 0
        # Payloads of private components whose owner turned sampling on (deploy/centre/payloads.py).
        self.payloads = PayloadSampler()
        self._lock = threading.Lock()
        self._clock = clock
        self._random = random.Random()
        self.ready = False

    @classmethod
    def open(cls, hub: HubSettings | None = None, settings: PlatformSettings | None = None) -> Centre:
        settings = settings or PlatformSettings()
        for name, value in MLFLOW_CLIENT_ENV.items():
            os.environ.setdefault(name, value)  # an operator's own setting wins
        engine = open_engine(settings.db_url)
        migrate(engine)
        centre = cls(Registry(hub or HubSettings()), TenantStore(engine, settings), settings)
        centre.flusher.start()
        centre._routes_thread.start()
        centre.ready = True
        return centre

    def close(self, routes_wait_s: float = 15.0) -> None:
        """Stop the background work, waiting up to ``routes_wait_s`` for the route refresher.

        The refresher may be inside an MLflow query when asked to stop; closing the registry or the
        cold pool under it made it fail on a closed client (or submit a preload to a pool that is shut).
        15 s covers MLflow's client at its worst here (MLFLOW_CLIENT_ENV: a 5 s timeout, one retry);
        a query hung beyond that is left to the daemon thread, said in the log, never waited on forever.
        """
        self.ready = False
        self._stop_routes.set()
        if self._routes_thread.is_alive():
            self._routes_thread.join(routes_wait_s)
            if self._routes_thread.is_alive():
                log.warning("the route refresher did not stop in %.0f s; closing without it", routes_wait_s)
        self._batch_pool.shutdown(wait=False, cancel_futures=True)
        self.cold_pool.shutdown(wait=False, cancel_futures=True)
        self.flusher.stop()
        self.payloads.write(self.tenants.engine, self.settings.payload_samples_keep)
        self.registry.close()

    # --- the request path ----------------------------------------------------------------------

    def authenticate(self, key: str | None, address: str | None = None) -> Principal:
        """Who holds ``key``; ``address`` is the client's, for the limit on failed authentications."""
        return self.keys.authenticate(key, address)

    def knows_key(self, key: str | None) -> bool:
        """Whether checking ``key`` needs no database: a call with it may stay on the event loop."""
        return self.keys.trusted(key)

    def admit(self, principal: Principal, action: str = "infer") -> None:
        """Rate limit and monthly quota, from memory only (also for metadata and readiness, which can
        load a model: they cost the same as a call)."""
        principal.require(action)
        tenant = principal.tenant
        try:
            self.limits.admit(tenant, time.monotonic())
            now = self._clock()
            used = self.meter.calls_this_month(tenant.name, now)
            check_quota(tenant, used, self.settings.default_monthly_quota, now)
        except QuotaExceeded:  # a RateLimited too: asked first
            self.metrics.refused.labels(tenant.name, "quota").inc()
            raise
        except RateLimited:
            self.metrics.refused.labels(tenant.name, "rate").inc()
            raise

    def component(self, name: str, principal: Principal) -> Component:
        """The component if ``principal`` may see it; NotFound otherwise, whether it exists or not.
        Gone (410, naming the replacement) for a deprecated one: deprecation stops serving."""
        found = self._component(name)
        if found is None or not can_see(
            principal.tenant,
            owner=found.card.owner,
            visibility=found.card.visibility,
            industries=found.card.industries,
        ):
            raise NotFound(f"component {name!r}", "`GET /api/v1/components` lists what you can use")
        if found.deprecated:
            raise Gone(name, found.replaced_by)
        return found

    def any_component(self, name: str) -> Component:
        """The component whoever owns it (for platform operators' views); NotFound if there is none."""
        found = self._component(name)
        if found is None:
            raise NotFound(f"component {name!r}", "`GET /api/v1/components` lists what you can use")
        return found

    def pick_version(self, component: Component, version: int | None) -> int:
        if version is not None:
            if version not in component.active:
                raise NotFound(f"version {version} of component {component.card.name!r}")
            return version
        if component.route is None:
            raise NotReady(f"component {component.card.name!r} (no active version)")
        return component.route.pick(self._random.random())

    def runtime(self, name: str, version: int) -> Runtime:
        try:
            return self.models.get(name, version)
        except ComponentNotFound as exc:
            raise NotFound(f"version {version} of component {name!r}") from exc
        except REGISTRY_DOWN as exc:
            raise RegistryUnavailable() from exc

    def is_warm(self, name: str, version: int | None) -> bool:
        """Whether a request can be answered from memory: its route is cached and its model loaded.

        An explicit version must be resident; without one, the route's default must be (a canary's
        other version may still load, a rare cold start that is short).
        """
        component = self._components.get(name)
        if component is None or component.route is None:
            return False
        chosen = version or component.route.default
        if (name, chosen) not in self.models:
            return False
        if component.versions.get(chosen) is not None and component.versions[chosen].format == "pipeline":
            # A pipeline is warm when its steps are: a step to load must not run on the event loop.
            runtime = self.models.get(name, chosen)
            if isinstance(runtime, PipelineRuntime):
                return all(self._step_warm(s.component, s.version) for s in runtime.steps)
        return True

    def _step_warm(self, name: str, ref: int | str) -> bool:
        """Whether a pipeline step's version is resident (not recursive: a step is never a pipeline
        that is run, so a loop of versions cannot make this spin)."""
        component = self._components.get(name)
        if component is None or component.route is None:
            return False
        version = ref if isinstance(ref, int) else component.aliases.get(ref, component.route.default)
        if ref == "production":
            version = component.route.default
        return (name, version) in self.models

    def batcher(self, component: Component, runtime: Runtime) -> Batcher | None:
        """The batcher of this version when its serving policy batches, else None.

        A new one replaces it when the policy changes or the model was reloaded. Called from the
        event loop only (batchers belong to one loop).
        """
        policy = component.serving
        if not policy.batching:
            return None
        key = (runtime.name, runtime.version)
        found = self._batchers.get(key)
        if found is not None and found[0] is runtime and found[1] == policy:
            return found[2]
        name = runtime.name
        batch_sizes = self.metrics.batch_requests.labels(name)

        def predict(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return self.predict(runtime, inputs)

        batcher = Batcher(
            predict,
            policy.max_batch_size,
            policy.batch_wait_ms / 1000.0,
            executor=self._batch_pool,
            on_batch=lambda requests, rows: batch_sizes.observe(requests),
        )
        if len(self._batchers) > 4 * self.models.max_models:  # evicted models must not pile up here
            self._batchers.clear()
        self._batchers[key] = (runtime, policy, batcher)
        return batcher

    def predict(self, runtime: Runtime, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return runtime.predict(inputs)
        except ValueError as exc:
            # Formulas say what is wrong with a request by raising ValueError (e.g. an unknown
            # fuel code); that is the caller's mistake, not the server's.
            raise BadRequest(f"{runtime.name}: {exc}") from None

    def run_pipeline(
        self, principal: Principal, runtime: PipelineRuntime, inputs: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Run a pipeline's steps in this replica, in order, each through its component's resident
        runtime (no hop): the outputs and each step's time in ms.

        Every step is checked as a call of its own (the caller must see the step's component: if it
        cannot, the pipeline answers 404 as if it did not exist, so a hidden step is never revealed)
        and metered as one, attributed to the step's component with the caller's tenant; the
        pipeline's own call is metered by the caller (`calls.InferCall`). A step that refuses its
        inputs answers with the step named (4xx), one whose component cannot load 503.
        """
        produced: dict[str, dict[str, np.ndarray]] = {}
        timings: dict[str, float] = {}
        rows = 0
        for step in runtime.steps:
            started = time.perf_counter()
            try:
                component = self.component(step.component, principal)
            except NotFound:
                raise NotFound(
                    f"component {runtime.name!r}", "`GET /api/v1/components` lists what you can use"
                ) from None
            except Gone as exc:  # visible to the caller, so it may be named: the pipeline cannot run
                raise StepFailed(step.name, step.component, exc.message, exc.status) from None
            chosen: int | str = "-"
            status = 500
            try:
                try:
                    chosen = self._step_version(component, step.version)
                except ServeError as exc:  # a pinned version no longer active, an alias not set
                    raise StepFailed(step.name, step.component, exc.message, 503) from None
                try:
                    model = self.runtime(step.component, chosen)
                except Exception as exc:
                    log.warning("pipeline %s: step %s cannot load: %s", runtime.name, step.name, exc)
                    raise StepFailed(
                        step.name, f"{step.component} version {chosen}", f"cannot load: {_reason(exc)}", 503
                    ) from None
                arrays = {
                    target: _as_input(
                        f"{source} -> {step.name}.{target}",
                        _source(source, inputs, produced),
                        model.card.inputs,
                        target,
                    )
                    for target, source in step.inputs.items()
                }
                rows = _rows(arrays)
                try:
                    produced[step.name] = self.predict(model, arrays)
                    status = 200
                except ServeError as exc:
                    raise StepFailed(
                        step.name, f"{step.component} version {chosen}", exc.message, exc.status
                    ) from None
                except Exception as exc:  # a step's model failing on what it was given: never a 500
                    log.warning("pipeline %s: step %s failed", runtime.name, step.name, exc_info=exc)
                    raise StepFailed(step.name, f"{step.component} version {chosen}", _reason(exc)) from None
            except ServeError as exc:
                status = int(exc.status)
                raise
            finally:
                timings[step.name] = (time.perf_counter() - started) * 1000.0
                try:
                    self.record(principal, step.component, chosen, started, rows, status)
                except Exception:  # metering must never turn an answer into an error
                    log.exception("metering failed")
        outputs = {o.name: _source(o.source, inputs, produced) for o in runtime.outputs}
        return outputs, timings

    def _step_version(self, component: Component, ref: int | str) -> int:
        """The version a step runs: a number, ``production`` (the component's route, canary
        included, as any call naming no version) or another alias."""
        if isinstance(ref, int):
            return self.pick_version(component, ref)
        if ref == "production":
            return self.pick_version(component, None)
        version = component.aliases.get(ref)
        if version is None:
            raise NotReady(f"alias {ref!r} of component {component.card.name!r}")
        return self.pick_version(component, version)

    def check_drift(self) -> None:
        """Score every monitored version (PSI per feature into Prometheus) and raise the drift event
        of each that crosses its component's threshold: a log line and ``brain_drift_events_total``.
        Off the hot path: the route refresher runs it after every pass."""
        for (name, version), monitor in list(self.drift.items()):
            if not monitor.ready():
                continue
            scores = monitor.scores()
            for feature in scores:
                self.metrics.drift_psi.labels(name, str(version), feature.name).set(feature.psi)
            component = self._components.get(name)
            threshold = component.serving.drift_threshold if component is not None else None
            worst = max(scores, key=lambda f: f.psi, default=None)
            crossed = threshold is not None and worst is not None and worst.psi >= threshold
            if crossed and not monitor.alerted and worst is not None:
                self.metrics.drift_events.labels(name, str(version)).inc()
                log.warning(
                    "drift: component %s version %d: PSI of %s is %.3f, over its threshold %.3f "
                    "(%d rows sampled)",
                    name,
                    version,
                    worst.name,
                    worst.psi,
                    threshold,
                    monitor.rows,
                )
            monitor.alerted = crossed

    def drift_report(self, component: Component) -> dict[str, Any]:
        """This replica's drift scores of ``component``'s monitored versions (each replica counts the
        calls it answers)."""
        name = component.card.name
        threshold = component.serving.drift_threshold
        versions = []
        for (monitored, version), monitor in sorted(self.drift.items()):
            if monitored != name:
                continue
            scores = monitor.scores() if monitor.ready() else []
            worst = max((f.psi for f in scores), default=None)
            versions.append(
                {
                    "version": version,
                    "rows_sampled": monitor.rows,
                    "scored": monitor.ready(),
                    "max_psi": worst,
                    "drifted": threshold is not None and worst is not None and worst >= threshold,
                    "features": [{"name": f.name, "kind": f.kind, "psi": f.psi} for f in scores],
                }
            )
        return {
            "component": name,
            "threshold": threshold,
            "sample_rate": self.settings.drift_sample_rate,
            "min_rows": MIN_ROWS,
            "versions": versions,
        }

    def record(
        self, principal: Principal, name: str, version: int | str, started: float, rows: int, status: int
    ) -> None:
        elapsed = time.perf_counter() - started
        tenant = principal.tenant.name
        self.meter.record(tenant, name, str(version), latency_s=elapsed, rows=rows, error=status >= 400)
        series = self.metrics.series(name, str(version), tenant, status)
        series.requests.inc()
        series.latency.observe(elapsed)
        series.rows.observe(rows)

    # --- component routes ----------------------------------------------------------------------

    def _component(self, name: str) -> Component | None:
        """The component's route, from memory; a name never seen waits for MLflow, and so does one that
        memory knows without an active version once per MISS_RECHECK_S (it may have been registered or
        promoted since the refresher's last pass: without this, calls in the 2 s after a registration
        were refused with 404 or "no active version" while MLflow already had the version)."""
        found = self._components.get(name, ...)
        if found is not ... and found is not None and found.route is not None:
            return found
        if found is not ...:
            now = time.monotonic()
            # Not while the refresher finds the registry down: a call would then wait for MLflow's
            # timeouts instead of getting the answer memory already has.
            if not self._routes_fresh or now - self._missed.get(name, -math.inf) < MISS_RECHECK_S:
                return found
            if len(self._missed) > 100_000:  # bounded like the cache itself
                self._missed.clear()
            self._missed[name] = now
        check_name(name)
        try:
            fetched: Component | None = self._fetch(name)
        except (ComponentNotFound, HubError):
            fetched = None
        except REGISTRY_DOWN as exc:
            if found is not ...:
                return found  # what memory knew is still the best answer
            raise RegistryUnavailable() from exc  # not cached: the next call asks again
        with self._lock:
            if len(self._components) > 100_000:  # unknown names must not grow the cache without bound
                self._components = {k: v for k, v in self._components.items() if v is not None}
            self._components[name] = fetched
        return fetched

    def _forget_removed(
        self, before: dict[str, Component | None], after: dict[str, Component | None]
    ) -> None:
        """Drop the Prometheus children of components that existed and are gone (bounded label sets)."""
        for name in before.keys() - after.keys():
            if before[name] is not None:
                self.metrics.forget(name)

    def _refresh_routes(self) -> None:
        """Refresh every route in bulk, in the background, for as long as the centre runs.

        Routes (aliases, canary, visibility, serving policy) change rarely and are read on every
        call, so calls read them from memory and this thread re-reads them all every ROUTE_TTL_S —
        or less often when a pass is slow, so that it takes at most 5% of a core: a pass over 500
        components costs 0.1-0.4 s of MLflow queries, and every 2 s it held the GIL long enough to
        put 60-70 ms on the p99 of the calls beside it. Names that were unknown are forgotten at
        each pass and looked up again when called.
        """
        wait = 0.0  # the first pass at once: a fresh replica knows every route before it is asked
        preloaded = False
        while not self._stop_routes.wait(wait):
            started = time.monotonic()
            try:
                infos = self.registry.all_info()
                routes: dict[str, Component | None] = {}
                for name, info in infos.items():
                    try:
                        routes[name] = self._component_of(info)
                    except HubError:
                        routes[name] = None
            except Exception:  # a store hiccup keeps the last good routes
                log.exception("refreshing the component routes failed")
                self._routes_fresh = False
                wait = ROUTE_TTL_S  # and the next try waits as a pass would: no busy loop while it is down
                continue
            with self._lock:
                before, self._components = self._components, routes
            self._routes_fresh = True
            self._forget_removed(before, routes)
            try:
                self.check_drift()
            except Exception:  # scoring must never stop the routes from refreshing
                log.exception("checking drift failed")
            self.payloads.write(self.tenants.engine, self.settings.payload_samples_keep)
            if not preloaded and self.settings.preload:
                self.cold_pool.submit(self._preload, routes)
            preloaded = True
            wait = max(ROUTE_TTL_S, 20 * (time.monotonic() - started))

    def _preload(self, routes: dict[str, Component | None]) -> None:
        """Load default versions in the background, within the resident bound, until it is full.

        A replica that starts with its models loaded answers first calls at warm speed; loads run in
        the cold pool, one at a time, so requests keep the rest of the replica.
        """
        loaded = 0
        for name, component in routes.items():
            if self._stop_routes.is_set() or len(self.models) >= self.models.max_models:
                break
            if component is None or component.route is None:
                continue
            try:
                self.models.get(name, component.route.default)
                loaded += 1
            except Exception as exc:  # one bad artifact must not stop the others; calls will say why
                log.warning("preloading %s failed: %s", name, exc)
        log.info("preloaded %d component versions", loaded)

    def _fetch(self, name: str) -> Component | None:
        return self._component_of(self.registry.info(name))

    def _component_of(self, info: ComponentInfo) -> Component:
        name = info.name
        active = frozenset(v.version for v in info.versions if v.status == "active" and v.format != "pickle")
        production = info.aliases.get("production")
        default = production if production in active else max(active, default=None)
        route = None
        if default is not None:
            canary = None
            if info.canary is not None and info.canary[0] in active:
                canary = Canary(*info.canary)
            route = Route(default, canary)
        return Component(
            self.registry.card(name),
            route,
            active,
            info.deprecated,
            time.monotonic(),
            info.serving,
            {v.version: v for v in info.versions if v.version in active},
            info.replaced_by,
            dict(info.aliases),
        )

    def _load(self, name: str, version: int) -> Runtime:
        # The route already read the version's record (sha256, source): no need to ask MLflow again.
        component = self._components.get(name)
        known = component.versions.get(version) if component is not None else None
        loaded = self.registry.fetch(known) if known is not None else self.registry.load(name, version)
        runtime = open_runtime(loaded, self.registry.settings.formula_packages)
        if self._drift_every and (name, version) not in self.drift:
            try:
                reference = read_reference(self.registry, name, version)
            except Exception:  # unreadable statistics must not stop the version from serving
                log.exception("reading the training statistics of %s version %d failed", name, version)
                reference = None
            if reference is not None:
                self.drift[(name, version)] = DriftMonitor(reference, self._drift_every)
        # A reloaded version keeps counting into the same histograms.
        runtime.drift = self.drift.get((name, version))
        return runtime

    def _loaded(self, event: LoadEvent) -> None:
        self.metrics.load_seconds.labels(event.key[0]).observe(event.seconds)
        self.metrics.resident.set(len(self.models))


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return message.splitlines()[0][:300]


def _source(
    reference: str, inputs: dict[str, np.ndarray], produced: dict[str, dict[str, np.ndarray]]
) -> np.ndarray:
    """The array a pipeline reference (``input.NAME`` or ``STEP.TENSOR``) names."""
    source, _, tensor = reference.partition(".")
    found = inputs if source == "input" else produced[source]
    if tensor not in found:
        # The spec was checked against the cards at registration; a component that returns less
        # than its card promises is refused here rather than with a KeyError (500).
        raise BadRequest(f"{reference} was not produced")
    return found[tensor]


def _as_input(edge: str, array: np.ndarray, specs: list[TensorSpec], name: str) -> np.ndarray:
    """``array`` as the step's input ``name``: in its card's datatype, its fixed dimensions checked
    (a -1 of the producer may meet a fixed size here)."""
    spec = next(s for s in specs if s.name == name)
    dtype = NUMPY_DTYPES[spec.datatype]
    value = np.asarray(array)
    if spec.datatype != "BYTES" and value.dtype != dtype:
        value = value.astype(dtype)
    if value.ndim != len(spec.shape) or any(
        d != -1 and d != n for d, n in zip(spec.shape, value.shape, strict=True)
    ):
        raise BadRequest(f"{edge}: shape {list(value.shape)} does not fit {spec.shape}")
    return value


def _rows(arrays: dict[str, np.ndarray]) -> int:
    first = next(iter(arrays.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim > 0 else 1


def require_operator(principal: Principal, action: str) -> None:
    """OperatorOnly unless ``principal`` is an admin or ops key of a platform-operator tenant.

    An enterprise's own admin manages its tenant only; platform-wide views (every tenant's and
    component's figures) need the operator's tenant, whatever the role is called elsewhere.
    """
    if principal.tenant.kind is not TenantKind.operator or principal.role not in (Role.admin, Role.ops):
        raise OperatorOnly(action)


def check_name(name: str) -> None:
    """NotFound, saying why, for a name no component can have (the card's slug rule), before it goes
    anywhere near MLflow, the meter or Prometheus: a ``:`` or ``/`` made MLflow raise (500), and a
    65-character name broke every later usage flush on PostgreSQL (its column holds 64)."""
    if len(name) > MAX_NAME or not SLUG.match(name):
        shown = name if len(name) <= MAX_NAME else name[:MAX_NAME] + "…"
        raise NotFound(
            f"component {shown!r}",
            f"component names are 3-{MAX_NAME} lower-case letters, digits, '-' or '_' "
            f"(`GET /api/v1/components` lists what you can use)",
        )


def error_status(exc: BaseException) -> int:
    """The HTTP status of any error the centre raises (500 for the unexpected)."""
    if isinstance(exc, ServeError | HubError):
        return int(exc.status)
    return 500
