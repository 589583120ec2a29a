"""The registry API of the capability centre: register, version, release, deprecate, canary, serve and
export components over HTTP, each with a key (docs/api.md).

Who may change a component: its owner tenant's keys of the roles the table of rights gives
(`register components`, `release components`, `export components`, `manage deployments`), or a
platform operator (`moderate registry`). The owner is the tenant of the key that registered the
component, never the card's text: a card that names another owner is refused. A component the
caller cannot see answers 404, as a missing one; one it can see but does not own, 403.

Uploads hold ONNX, torch as JSON + safetensors, or a formula's JSON (`model_hub.intake.UPLOAD_FILES`):
the server parses them and never unpickles anything; a pickle is refused by its name and its first
bytes, before anything reads it. Every MLflow call runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from deploy.centre import payloads
from deploy.centre.calls import address_of, centre_of, key_of, version_of
from deploy.centre.errors import BadRequest, Forbidden, NotFound, NotYours, PayloadTooLarge, PickleUpload
from deploy.centre.inference import Centre, check_name
from deploy.tenancy import Principal, can_see
from model_hub import Card, Lineage, ServingPolicy, Version
from model_hub.errors import CardInvalid
from model_hub.intake import UPLOAD_FILES
from model_hub.pipeline import SPEC_FILE, PipelineSpec
from model_hub.safety import PICKLE_SUFFIXES, looks_like_pickle
from scheduler.control import one_line

T = TypeVar("T")

#: The largest JSON body of a lifecycle call (413 beyond it, before parsing).
MAX_JSON_BYTES = 64 * 1024

#: Room for the multipart framing and the card around the artifact files of an upload.
UPLOAD_OVERHEAD_BYTES = 1024 * 1024

#: The files one upload may hold (the largest format has two).
MAX_UPLOAD_FILES = 4

router = APIRouter(tags=["registry"])


# --- bodies ---------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


VersionNumber = Field(ge=1, le=999_999_999, description="A version number")


class PromoteBody(_Body):
    version: int = VersionNumber
    alias: str = Field("production", max_length=32, description="staging or production")


class RollbackBody(_Body):
    to: int | None = Field(None, ge=1, le=999_999_999, description="Default: the previous production")


class DeprecateBody(_Body):
    version: int | None = Field(None, ge=1, le=999_999_999, description="Default: the whole component")
    replacement: str | None = Field(None, max_length=64, description="The component to use instead")


class CanaryBody(_Body):
    version: int = VersionNumber
    percent: float = Field(gt=0, lt=100, description="Share of calls that name no version")


class ServingChange(_Body):
    """The fields of a ServingPolicy to change; those left out keep their values."""

    max_batch_size: int | None = None
    batch_wait_ms: float | None = None
    dedicated: bool | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_ongoing_requests: float | None = None
    downscale_delay_s: float | None = None
    payload_sample_rate: float | None = None


B = TypeVar("B", bound=_Body)


def _json_doc(model: type[_Body]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "card": {
                            "type": "string",
                            "description": "The component card as JSON (not for a pipeline: its card "
                            "is in pipeline.json)",
                        },
                        "lineage": {
                            "type": "string",
                            "description": 'JSON {"training_job", "data_snapshot", "git_commit"}',
                        },
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "model.onnx; or torch.json + weights.safetensors; or "
                            "formula.json; or pipeline.json (a pipeline's spec)",
                        },
                    },
                }
            }
        },
    }
}

#: The statuses each registry route answers besides its success (`gateway._document_statuses`).
_AUTHENTICATED = (401, 403, 429, 503)
_WRITE = (400, 404, 413, *_AUTHENTICATED)
REGISTRY_STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/api/v1/components"): (400, 409, 413, 422, *_AUTHENTICATED),
    ("GET", "/api/v1/components/{name}"): (400, 404, *_AUTHENTICATED),
    ("POST", "/api/v1/components/{name}/versions"): (*_WRITE, 409, 422),
    ("POST", "/api/v1/components/{name}/promote"): _WRITE,
    ("POST", "/api/v1/components/{name}/rollback"): _WRITE,
    ("POST", "/api/v1/components/{name}/deprecate"): _WRITE,
    ("PUT", "/api/v1/components/{name}/canary"): _WRITE,
    ("DELETE", "/api/v1/components/{name}/canary"): (400, 404, *_AUTHENTICATED),
    ("PUT", "/api/v1/components/{name}/serving"): _WRITE,
    ("GET", "/api/v1/components/{name}/export"): (400, 404, 409, *_AUTHENTICATED),
    ("GET", "/api/v1/components/{name}/payloads"): (400, 404, *_AUTHENTICATED),
    ("DELETE", "/api/v1/components/{name}/payloads"): (400, 404, *_AUTHENTICATED),
}


# --- routes ---------------------------------------------------------------------------------------


@router.post("/api/v1/components", status_code=201, openapi_extra=_UPLOAD_DOC)
async def register(request: Request) -> JSONResponse:
    """Register a new component: its card and its artifact files (multipart)."""
    centre, principal = await _caller(request)
    _require(principal, "register components")
    card, lineage, folder = await _upload(request, centre, principal.tenant.name, None)
    try:
        version = await run_in_threadpool(_register, centre, principal, card, folder, lineage, False)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    answer = _version(version)
    await run_in_threadpool(_record, centre, principal, "component.register", card.name, card.owner, answer)
    return JSONResponse(answer, 201)


@router.get("/api/v1/components/{name}")
async def show(name: str, request: Request) -> dict[str, Any]:
    """A component's card, versions, deprecation and serving policy (for keys that can see it)."""
    centre, principal = await _caller(request)
    principal.require("read catalogue")

    def run() -> dict[str, Any]:
        _visible(centre, principal, name)
        info = centre.registry.info(name)
        return {
            "card": centre.registry.card(name).model_dump(mode="json"),
            "versions": [_version(v, info.aliases) for v in info.versions],
            "deprecated": info.deprecated,
            "replaced_by": info.replaced_by,
            "canary": {"version": info.canary[0], "percent": info.canary[1]} if info.canary else None,
            "serving": info.serving.model_dump(),
        }

    return await run_in_threadpool(run)


@router.post("/api/v1/components/{name}/versions", status_code=201, openapi_extra=_UPLOAD_DOC)
async def add_version(name: str, request: Request) -> JSONResponse:
    """Add a version to a component of the caller's tenant (multipart, as register)."""
    centre, principal = await _caller(request)
    owner = await run_in_threadpool(_owned, centre, principal, name, "register components")
    card, lineage, folder = await _upload(request, centre, owner, name)
    try:
        version = await run_in_threadpool(_register, centre, principal, card, folder, lineage, True)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    answer = _version(version)
    await run_in_threadpool(_record, centre, principal, "component.version", name, owner, answer)
    return JSONResponse(answer, 201)


@router.post("/api/v1/components/{name}/promote", openapi_extra=_json_doc(PromoteBody))
async def promote(name: str, request: Request) -> dict[str, Any]:
    """Point an alias (staging, production) at a version."""
    body = await _parse(request, PromoteBody)
    return await _change(
        request,
        name,
        "release components",
        "component.promote",
        lambda c, _: _version(c.registry.promote(name, body.version, body.alias)),
    )


@router.post("/api/v1/components/{name}/rollback", openapi_extra=_json_doc(RollbackBody))
async def rollback(name: str, request: Request) -> dict[str, Any]:
    """Point production back at the previous production version (or at ``to``)."""
    body = await _parse(request, RollbackBody)
    return await _change(
        request,
        name,
        "release components",
        "component.rollback",
        lambda c, _: _version(c.registry.rollback(name, body.to)),
    )


@router.post("/api/v1/components/{name}/deprecate", openapi_extra=_json_doc(DeprecateBody))
async def deprecate(name: str, request: Request) -> dict[str, Any]:
    """Deprecate a version, or the whole component (no longer served: 410 naming the replacement)."""
    body = await _parse(request, DeprecateBody)

    def run(centre: Centre, principal: Principal) -> dict[str, Any]:
        if body.replacement is not None:
            _visible(centre, principal, body.replacement, "replacement")
        centre.registry.deprecate(name, body.version, body.replacement)
        return {"component": name, "version": body.version, "replaced_by": body.replacement}

    return await _change(request, name, "release components", "component.deprecate", run)


@router.put("/api/v1/components/{name}/canary", openapi_extra=_json_doc(CanaryBody))
async def set_canary(name: str, request: Request) -> dict[str, Any]:
    """Send ``percent`` of the calls that name no version to ``version``."""
    body = await _parse(request, CanaryBody)

    def run(centre: Centre, _: Principal) -> dict[str, Any]:
        centre.registry.set_canary(name, body.version, body.percent)
        return {"component": name, "version": body.version, "percent": body.percent}

    return await _change(request, name, "release components", "component.canary", run)


@router.delete("/api/v1/components/{name}/canary")
async def clear_canary(name: str, request: Request) -> dict[str, Any]:
    """Stop the canary split."""

    def run(centre: Centre, _: Principal) -> dict[str, Any]:
        centre.registry.clear_canary(name)
        return {"component": name, "canary": None}

    return await _change(request, name, "release components", "component.canary.clear", run)


@router.put("/api/v1/components/{name}/serving", openapi_extra=_json_doc(ServingChange))
async def set_serving(name: str, request: Request) -> dict[str, Any]:
    """Change how a component is served (batching, a deployment of its own); other fields are kept."""
    body = await _parse(request, ServingChange)

    def run(centre: Centre, _: Principal) -> dict[str, Any]:
        current = centre.registry.info(name).serving
        try:
            policy = ServingPolicy.model_validate(
                {**current.model_dump(), **body.model_dump(exclude_none=True)}
            )
        except ValidationError as exc:
            raise BadRequest(f"invalid serving policy for {name}: {one_line(exc)}") from None
        centre.registry.set_serving(name, policy)
        return {"component": name, **policy.model_dump()}

    return await _change(request, name, "manage deployments", "component.serving", run)


@router.get("/api/v1/components/{name}/export")
async def export(
    name: str,
    request: Request,
    version: str | None = Query(None, max_length=32, description="A number or an alias; default production"),
) -> Response:
    """The verified artifact folder of a version (model, card, manifest) as a zip archive."""
    ref: int | str | None = None
    if version is not None:
        ref = version_of(version) if version[:1].isdigit() else version

    def run(centre: Centre, _: Principal) -> Response:
        loaded = centre.registry.load(name, ref)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(loaded.path.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(loaded.path).as_posix())
        filename = f"{name}-v{loaded.version.version}.zip"
        return Response(
            buffer.getvalue(),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return await _change(request, name, "export components", "component.export", run)


@router.get("/api/v1/components/{name}/payloads")
async def payload_samples(
    name: str,
    request: Request,
    version: int | None = Query(None, ge=1, le=1_000_000, description="One version; default all"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The newest payload samples of a private component whose policy samples them (owner only)."""
    centre, principal = await _caller(request)

    def run() -> dict[str, Any]:
        _owner_only(centre, principal, name)
        engine = centre.tenants.engine
        return {
            "component": name,
            "sample_rate": centre.registry.info(name).serving.payload_sample_rate,
            "stored": payloads.count_samples(engine, name),
            "items": payloads.read_samples(engine, name, version=version, limit=limit),
        }

    return await run_in_threadpool(run)


@router.delete("/api/v1/components/{name}/payloads")
async def purge_payload_samples(name: str, request: Request) -> dict[str, Any]:
    """Delete every payload sample of the component (owner only; sampling itself stays as set)."""
    centre, principal = await _caller(request)

    def run() -> dict[str, Any]:
        owner = _owner_only(centre, principal, name)
        deleted = payloads.purge_samples(centre.tenants.engine, name)
        answer = {"component": name, "deleted": deleted}
        _record(centre, principal, "component.payloads.purge", name, owner, answer)
        return answer

    return await run_in_threadpool(run)


def _register(
    centre: Centre,
    principal: Principal,
    card: Card | PipelineSpec,
    folder: Path,
    lineage: Lineage,
    new_version: bool,
) -> Version:
    """Register an upload: a component's files, or a pipeline whose steps must all be components
    the caller's tenant may use (one it may not reads as unknown, as everywhere)."""
    if isinstance(card, PipelineSpec):

        def may_use(part: Card) -> bool:
            return principal.may("moderate registry") or can_see(
                principal.tenant, owner=part.owner, visibility=part.visibility, industries=part.industries
            )

        return centre.registry.register_pipeline(
            card, may_use=may_use, lineage=lineage, new_version=new_version
        )
    return centre.registry.register_upload(card, folder, lineage=lineage, new_version=new_version)


# --- who may -------------------------------------------------------------------------------------


async def _caller(request: Request) -> tuple[Centre, Principal]:
    """The centre and the verified caller, rate-limited; the key check may read the database."""
    centre = centre_of(request)
    key, address = key_of(request), address_of(request)
    principal = await run_in_threadpool(centre.authenticate, key, address)
    centre.limits.admit(principal.tenant, time.monotonic())
    return centre, principal


def _require(principal: Principal, right: str) -> None:
    """403 unless ``principal`` holds ``right`` (for its own tenant) or moderates the registry."""
    if not principal.may("moderate registry"):
        principal.require(right)


def _tags(centre: Centre, name: str, what: str = "component") -> dict[str, str]:
    check_name(name)
    model = centre.registry.store.registered(name)
    if model is None:
        raise NotFound(f"{what} {name!r}", "`GET /api/v1/components` lists what you can use")
    return dict(model.tags or {})


def _may_see(principal: Principal, tags: dict[str, str]) -> bool:
    return can_see(
        principal.tenant,
        owner=tags.get("brain.owner", ""),
        visibility=tags.get("brain.visibility", "private"),
        industries=[c for c in tags.get("brain.industries", "").split(",") if c],
    )


def _visible(centre: Centre, principal: Principal, name: str, what: str = "component") -> None:
    """404 unless ``principal`` may see ``name`` (an invisible component answers as a missing one)."""
    tags = _tags(centre, name, what)
    if not (principal.may("moderate registry") or _may_see(principal, tags)):
        raise NotFound(f"{what} {name!r}", "`GET /api/v1/components` lists what you can use")


def _owned(centre: Centre, principal: Principal, name: str, right: str) -> str:
    """The owner of ``name`` when ``principal`` may change it with ``right``: 403 for a role without
    the right, 404 for a component it cannot see, 403 for one it sees but another tenant owns."""
    _require(principal, right)
    tags = _tags(centre, name)
    owner = tags.get("brain.owner", "")
    if owner == principal.tenant.name or principal.may("moderate registry"):
        return owner
    if _may_see(principal, tags):
        raise NotYours(name, owner)
    raise NotFound(f"component {name!r}", "`GET /api/v1/components` lists what you can use")


def _owner_only(centre: Centre, principal: Principal, name: str) -> str:
    """The owner of ``name`` when the caller is one of its keys with `read payload samples`; payloads
    are the enterprise's own data, so not even registry moderation reaches them (403), and a component
    the caller cannot see answers 404."""
    tags = _tags(centre, name)
    owner = tags.get("brain.owner", "")
    if owner != principal.tenant.name:
        if principal.may("moderate registry") or _may_see(principal, tags):  # it knows the component
            raise Forbidden(
                principal.role.value,
                "read payload samples",
                [f"the admin or developer keys of {owner!r}, the component's owner"],
            )
        raise NotFound(f"component {name!r}", "`GET /api/v1/components` lists what you can use")
    principal.require("read payload samples")
    return owner


async def _change(
    request: Request, name: str, right: str, audit: str, action: Callable[[Centre, Principal], T]
) -> T:
    """Authenticate, check ``right`` on ``name``, run ``action`` in a worker thread (MLflow), and write
    the audit entry ``audit`` once it has succeeded."""
    centre, principal = await _caller(request)

    def run() -> T:
        owner = _owned(centre, principal, name, right)
        result = action(centre, principal)
        _record(centre, principal, audit, name, owner, result if isinstance(result, dict) else {})
        return result

    return await run_in_threadpool(run)


def _record(
    centre: Centre, principal: Principal, action: str, name: str, owner: str, detail: dict[str, Any]
) -> None:
    """The registry's audit entry: who (key and tenant) did what to whose component."""
    who = {"tenant": principal.tenant.name, "role": principal.role.value, "owner": owner}
    centre.tenants.record(principal.actor, action, name, {**who, **detail})


# --- bodies and uploads --------------------------------------------------------------------------


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit``: by its declared length before any of it
    is read, and a chunked one as it arrives."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(size, limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # what request.form() then parses
    return body


async def _parse(request: Request, model: type[B]) -> B:
    body = await _read_capped(request, MAX_JSON_BYTES)
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise BadRequest(f"invalid request body: {one_line(exc)}") from None


async def _upload(
    request: Request, centre: Centre, owner: str, name: str | None
) -> tuple[Card | PipelineSpec, Lineage, Path]:
    """The card (owner set to ``owner``), lineage and artifact files of a multipart upload; the files
    are written to a fresh folder (the caller removes its parent). An upload of ``pipeline.json``
    alone is a pipeline: its spec, card included, owner set to ``owner``."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("send the card and the files as multipart/form-data (fields card, files, lineage)")
    limit = centre.registry.settings.max_model_bytes + UPLOAD_OVERHEAD_BYTES
    await _read_capped(request, limit)
    form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=8)
    try:
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if [Path(f.filename or "").name for f in files] == [SPEC_FILE]:
            spec = _pipeline(await files[0].read(), form.get("card"), owner, name)
            return spec, _lineage(form.get("lineage")), _empty_folder()
        card = _card(form.get("card"), owner, name)
        lineage = _lineage(form.get("lineage"))
        if not files:
            raise BadRequest(
                "no files were sent; send the model as `files` parts: "
                + " or ".join(f"{sorted(names)} ({fmt})" for fmt, names in UPLOAD_FILES.items())
            )
        allowed = frozenset().union(*UPLOAD_FILES.values())
        tmp = Path(tempfile.mkdtemp(prefix="brain-upload-"))
        folder = tmp / "files"
        folder.mkdir()
        try:
            for upload in files:
                file_name = Path(upload.filename or "").name
                data = await upload.read()
                _check_file(file_name, data, allowed)
                if (folder / file_name).exists():
                    raise BadRequest(f"file {file_name!r} was sent twice")
                (folder / file_name).write_bytes(data)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        await form.close()
    return card, lineage, folder


def _empty_folder() -> Path:
    """A fresh folder for an upload that keeps no files (a pipeline's spec is parsed, not stored as sent)."""
    folder = Path(tempfile.mkdtemp(prefix="brain-upload-")) / "files"
    folder.mkdir()
    return folder


def _pipeline(data: bytes, card: object, owner: str, name: str | None) -> PipelineSpec:
    """A pipeline's spec from its uploaded ``pipeline.json``, owned by ``owner``."""
    if card is not None:
        raise BadRequest(f"a pipeline's card is in {SPEC_FILE}; send only the file, without a `card` field")
    fields = _owned_fields(
        data,
        owner,
        name,
        where=SPEC_FILE,
        what="the pipeline's spec",
        owner_of="the pipeline names owner {stated!r}, but its owner",
        other_name="the pipeline is {stated!r}, not {name!r}",
    )
    return PipelineSpec.parse(fields)


def _owned_fields(
    text: str | bytes, owner: str, name: str | None, *, where: str, what: str, owner_of: str, other_name: str
) -> dict[str, Any]:
    """The JSON object of an uploaded card or pipeline spec, with its owner set to ``owner`` (the key's
    tenant; a different owner stated in it is refused) and its name to ``name`` when a version is added
    (a different name is refused). ``owner_of`` and ``other_name`` word the refusals ({stated}, {name})."""
    try:
        fields = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"{where} is not JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise BadRequest(f"{where} must be a JSON object ({what})")
    stated = fields.get("owner")
    if stated is not None and stated != owner:
        raise CardInvalid(
            owner_of.format(stated=stated) + f" is the tenant of the key that registers it ({owner!r}); "
            f"leave `owner` out or set it to {owner!r}"
        )
    if name is not None and fields.get("name", name) != name:
        raise CardInvalid(other_name.format(stated=fields.get("name"), name=name))
    return {**fields, "owner": owner, **({"name": name} if name else {})}


def _check_file(file_name: str, data: bytes, allowed: frozenset[str]) -> None:
    """Refuse, without loading it, a pickle (by its name or its first bytes) and any unexpected file."""
    if Path(file_name).suffix.lower() in PICKLE_SUFFIXES or looks_like_pickle(data[:4]):
        raise PickleUpload(file_name)
    if file_name not in allowed:
        raise BadRequest(
            f"file {file_name!r} is not accepted; an upload holds "
            + " or ".join(f"{sorted(names)} ({fmt})" for fmt, names in UPLOAD_FILES.items())
        )


def _card(raw: object, owner: str, name: str | None) -> Card:
    if not isinstance(raw, str):
        raise BadRequest("the `card` field is missing: send the component card as JSON text")
    fields = _owned_fields(
        raw,
        owner,
        name,
        where="the `card` field",
        what="the component card",
        owner_of="the card names owner {stated!r}, but a component's owner",
        other_name="the card is for {stated!r}, not {name!r}",
    )
    try:
        return Card.model_validate(fields)
    except ValidationError as exc:
        raise CardInvalid(f"invalid card: {one_line(exc)}") from None


def _lineage(raw: object) -> Lineage:
    if raw is None:
        return Lineage()
    if not isinstance(raw, str):
        raise BadRequest("the `lineage` field must be JSON text")
    try:
        fields = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"the `lineage` field is not JSON: {exc}") from None
    known = {"training_job", "data_snapshot", "git_commit"}
    if (
        not isinstance(fields, dict)
        or set(fields) - known
        or not all(isinstance(v, str) and len(v) <= 200 for v in fields.values())
    ):
        raise BadRequest(
            f"`lineage` must be a JSON object of strings (≤ 200 characters) among {sorted(known)}"
        )
    return Lineage(**fields)


def _version(version: Version, aliases: dict[str, int] | None = None) -> dict[str, Any]:
    """A version as the API shows it: without its artifact URI, which is the platform's business."""
    shown = version.as_dict()
    shown.pop("source", None)
    if aliases is not None:
        shown["aliases"] = sorted(a for a, v in aliases.items() if v == version.version)
    return shown
