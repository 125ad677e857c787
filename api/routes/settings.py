"""GET/PUT /v1/me/settings: the caller's own settings (chat-history personalization)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActingUser, ControlDep, NowDep
from api.errors import ERROR_RESPONSES
from api.schemas import SettingsIn, SettingsOut
from reelrank.control.user_settings import read_settings, set_chat_personalization

__all__ = ["router"]

router = APIRouter(prefix="/v1/me", tags=["settings"], responses=ERROR_RESPONSES)


@router.get("/settings", response_model=SettingsOut)
def get_settings(user: ActingUser, control: ControlDep) -> SettingsOut:
    return SettingsOut(**read_settings(control, user))


@router.put("/settings", response_model=SettingsOut)
def put_settings(body: SettingsIn, user: ActingUser, control: ControlDep, now: NowDep
                 ) -> SettingsOut:
    """Switching chat personalization off applies to the very next feed request (the taste
    vector built from chat stops being used) and the next pipeline run deletes it."""
    set_chat_personalization(control, user, body.chat_personalization, now=now)
    return SettingsOut(**read_settings(control, user))
