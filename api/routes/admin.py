"""Admin endpoints (service tokens only): POST /v1/admin/reload loads the published snapshot
now rather than at the next poll; PUT /v1/admin/items/{item_id}/label is a moderator's
safety label for an item, in force on every server's next request (and in the nightly
batch; the next pipeline run folds it into the warehouse); GET reads an item's label now;
GET /v1/admin/experiments lists the experiments with their status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import ApiState, CodecDep, ControlDep, NowDep, ServiceCaller, StateDep
from api.errors import ERROR_RESPONSES, ConflictError, NotFoundError
from api.ids import IdCodec
from api.schemas import LabelIn, LabelOut, ReloadOut
from ranking.directory import Directory, KnownItem
from reelrank.control import experiments
from reelrank.control.connection import Connection, stamp
from reelrank.control.labels import label_of, set_label

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=ERROR_RESPONSES)

ItemPath = Annotated[str, Path(max_length=128, description="an item of this home")]


@router.post("/reload", response_model=ReloadOut)
async def reload(_caller: ServiceCaller, state: StateDep) -> ReloadOut:
    """409 when the published snapshot is refused (the one being served stays)."""
    result = await state.serving.reload(force=True)
    if result.refused is not None:
        raise ConflictError(f"snapshot refused, still serving {result.snapshot}: "
                            f"{result.refused}")
    return ReloadOut(snapshot=result.snapshot, changed=result.changed)


def _item(state: ApiState, control: Connection, codec: IdCodec, item_id: str) -> KnownItem:
    """The item (404 when neither the served snapshot nor the generated items hold it)."""
    live = state.serving.current
    directory = Directory.of(live.service.engine.snap) if live is not None else Directory()
    typed = codec.item(item_id)
    found = directory.item(control, typed)
    if found is None and typed != item_id:  # a generated item's id is text in any home
        found = directory.item(control, item_id)
    if found is None:
        raise NotFoundError(f"no item {item_id!r} in this home")
    return found


def _out(item: KnownItem, control: Connection) -> LabelOut:
    row = label_of(control, item.item_id)
    if row is None:
        return LabelOut(item_id=item.item_id, label=item.safety_label, moderated=False)
    return LabelOut(item_id=item.item_id, label=row["label"], moderated=True,
                    set_by=row["set_by"], reason=row["reason"], set_at=row["set_at"])


@router.put("/items/{item_id}/label", response_model=LabelOut)
def put_label(item_id: ItemPath, body: LabelIn, caller: ServiceCaller, state: StateDep,
              control: ControlDep, codec: CodecDep, now: NowDep) -> LabelOut:
    """Label an item safe, sensitive or unsafe, from the next request on, everywhere."""
    item = _item(state, control, codec, item_id)
    set_label(control, item.item_id, body.label, by=caller.label or str(caller.subject),
              reason=body.reason, now=now)
    return _out(item, control)


@router.get("/items/{item_id}/label", response_model=LabelOut)
def get_label(item_id: ItemPath, _caller: ServiceCaller, state: StateDep,
              control: ControlDep, codec: CodecDep) -> LabelOut:
    """The item's label now: a moderator's, else its own rating."""
    return _out(_item(state, control, codec, item_id), control)


@router.get("/experiments")
def list_experiments(_caller: ServiceCaller, control: ControlDep, now: NowDep) -> dict:
    """Every experiment (`reelrank experiments create`): kind, variants with their shares
    and settings overrides, salt, start and end, and its status now."""
    at = stamp(now)
    return {"experiments": [e.as_json(at) for e in experiments.list_all(control)]}
