"""The typed draft of a report being written, and the names of its steps.

It holds no word the worker wrote: her story as sealed boxes (only the console's key opens them),
counts of the files kept sealed in ``report_draft_files`` under ``draft``, the answers to the
buttons, and the ids of the messages to delete from the chat once the report is sent.
"""

from __future__ import annotations

import secrets
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.reports.protocol import Category, Harm


class ReportStep(StrEnum):
    DANGER = "danger"
    CATEGORY = "category"
    HARM = "harm"
    STORY = "story"
    EVIDENCE = "evidence"
    OTHERS = "others"
    FOLLOW = "follow"
    FOLLOW_WARN = "follow_warn"
    SHARE = "share"
    REVIEW = "review"


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNSURE = "unsure"


class Follow(StrEnum):
    RECEIPT = "receipt"
    CHAT = "chat"


class SealedPart(BaseModel):
    """One message of her story, sealed as it arrived: base64 sealed box and the key's id."""

    box: str
    kid: str


def _token() -> str:
    return secrets.token_hex(16)


class ReportDraft(BaseModel):
    # Taps are stored as strings by the wizard: validate them into the enums as they are set.
    model_config = ConfigDict(validate_assignment=True)

    token: str = Field(default_factory=_token)  # one case per report, however often Send is tapped
    draft: str = Field(default_factory=_token)  # names her sealed files in report_draft_files
    danger: Answer | None = None
    category: Category | None = None
    harm: Harm | None = None
    story: list[SealedPart] = Field(default_factory=list)
    story_chars: int = 0
    voices: int = 0
    files: int = 0  # photos and documents
    others: Answer | None = None
    follow: Follow | None = None
    share: Answer | None = None
    reviewed: bool = False  # the review was shown and she chose to change an answer
    # Deleted from the chat once the report is sent: her story and files, the review screens.
    chat_trail: list[int] = Field(default_factory=list)
    prompt_id: int | None = None  # the last "received, send more or Done" note
    # Where the wizard puts the last tap of a step whose buttons are actions, not answers.
    story_tap: str | None = None
    evidence_tap: str | None = None
    review_tap: str | None = None

    @property
    def has_story(self) -> bool:
        return bool(self.story or self.voices)
