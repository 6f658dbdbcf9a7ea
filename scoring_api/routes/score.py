"""Online scoring of one inquiry as it is submitted."""

from __future__ import annotations

from fastapi import APIRouter

from models.features import build_features, facts_from_submissions
from models.score import score_features
from scoring_api.deps import ModelDep
from scoring_api.schemas import InquiryIn, ReasonOut, ScoreOut

router = APIRouter(prefix="/v1/score", tags=["score"])


@router.post("")
def score_inquiry(inquiry: InquiryIn, model: ModelDep) -> ScoreOut:
    """Score one inquiry as submitted, with the same features as training, and say why."""
    features = build_features(facts_from_submissions([inquiry.model_dump()]))
    scores = score_features(model, features)
    return ScoreOut(
        probability=float(scores.probability[0]),
        score=int(scores.score[0]),
        tier=scores.tier[0],
        reasons=[ReasonOut(**reason) for reason in scores.reasons(features, 0)],
        scorer=model.kind,
        model_version=model.version,
    )
