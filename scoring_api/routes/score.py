"""Online scoring of one inquiry as it is submitted."""

from __future__ import annotations

from fastapi import APIRouter

from models.features import inquiries_from_submissions
from models.score import score_inquiries, tier_for
from scoring_api.deps import ModelDep
from scoring_api.schemas import InquiryIn, ScoreOut

router = APIRouter(prefix="/v1/score", tags=["score"])


@router.post("")
def score_inquiry(inquiry: InquiryIn, model: ModelDep) -> ScoreOut:
    """Score one inquiry with the champion model, from the same features as training."""
    inquiries = inquiries_from_submissions([inquiry.model_dump()])
    probability = float(score_inquiries(model, inquiries)[0])
    return ScoreOut(
        probability=probability,
        score=round(probability * 100),
        tier=tier_for(probability),
        model_version=model.version,
    )
