"""Online scoring of one inquiry as it is submitted."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from models.features import fact_of_submission, features_of_fact
from models.scorer import Scorer, score_row
from scoring_api.deps import ModelDep, role_for_key
from scoring_api.errors import refusals
from scoring_api.guard import API_KEY_HEADER_NAME
from scoring_api.routing import ContractRequest
from scoring_api.schemas import InquiryIn, ScoreOut

# who may score, besides admin (scoring_api/main.py includes the router behind these)
ROLES = ("sales",)


class ScoreRoute(APIRoute):
    """POST /v1/score, answered directly when it is what a machine sends all day: an API key
    of a scoring role and a valid inquiry. Everything else (a session, another role, a body
    that is not a valid inquiry, no model yet) goes through FastAPI's whole handling, which
    gives the documented answers: 401, 403, 422, 503.

    FastAPI's dependency solving, body validation and response validation cost twice what
    the score does (`leadflow bench api`'s p99 at 8 connections); the direct path checks
    the same things in one pass and serializes the same ScoreOut the same way.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_score(request: Request) -> Response:
            # one request object for both paths: the body read here is not read again
            request = ContractRequest(request.scope, request.receive)
            response = await _scored_directly(request)
            return response if response is not None else await handle(request)

        return handle_score


router = APIRouter(
    prefix="/v1/score",
    tags=["score"],
    route_class=ScoreRoute,
    responses=refusals(401, 403, 413, 422, 503),
)


@router.post("")
async def score_inquiry(request: Request, inquiry: InquiryIn, model: ModelDep) -> ScoreOut:
    """Score one inquiry as submitted, with the same features as training, and say why."""
    # async: a fraction of a millisecond of pure computation, cheaper on the event loop
    # than handed to a worker thread and back
    return _score(request, inquiry, model)


def _score(request: Request, inquiry: InquiryIn, model: Scorer) -> ScoreOut:
    _check_submitted_at(request, inquiry)
    # its fields as model_dump gives them (all plain values), for a tenth of the cost
    submitted = dict(inquiry.__dict__)
    warnings = _unconfigured_values(request, submitted)
    # one row in plain Python: a DataFrame of one row would cost more than the rest
    features = features_of_fact(fact_of_submission(submitted))
    scored = score_row(model, features)
    # validated from plain data in one call (pydantic's core): the reasons' own models,
    # built one by one, cost as much again
    return ScoreOut.model_validate(
        {
            "probability": scored.probability,
            "score": scored.score,
            "tier": scored.tier,
            "reasons": scored.reasons(features),
            "scorer": model.kind,
            "model_version": model.version,
            "warnings": warnings,
        }
    )


_SERIALIZE = ScoreOut.__pydantic_serializer__


async def _scored_directly(request: Request) -> Response | None:
    """The score of a scoring role's valid inquiry, or None for the whole handling."""
    model: Scorer | None = request.app.state.model
    if model is None or "session" in request.scope.get("state", {}):
        return None
    key = request.headers.get(API_KEY_HEADER_NAME)
    role = role_for_key(request.app.state.api_keys, key) if key else None
    if role != "admin" and role not in ROLES:
        return None
    if request.headers.get("content-type") != "application/json":
        return None
    try:
        inquiry = InquiryIn.model_validate(orjson.loads(await request.body()))
        scored = _score(request, inquiry, model)
    except (orjson.JSONDecodeError, ValidationError, RequestValidationError):
        return None
    return Response(_SERIALIZE.to_json(scored), media_type="application/json")


def _unconfigured_values(request: Request, submitted: dict[str, Any]) -> list[str]:
    """A warning per value outside its configured vocabulary (scored as a value the model
    has not seen), or 422 naming them when the vocabularies say to refuse such values."""
    vocabularies = request.app.state.limits.rules.vocabularies
    if vocabularies is None:
        return []
    found = vocabularies.unconfigured(submitted)
    if found and vocabularies.unknown_values == "quarantine":
        raise RequestValidationError(
            [
                {
                    "type": "unconfigured_value",
                    "loc": ("body", field),
                    "msg": f"not one of the configured {vocabulary}",
                    "input": None,
                }
                for vocabulary, field, _ in found
            ]
        )
    return [
        f"{field} {value!r} is not one of the configured {vocabulary}: scored as a value "
        "the model has not seen"
        for vocabulary, field, value in found
    ]


def _check_submitted_at(request: Request, inquiry: InquiryIn) -> None:
    """422 unless submitted_at lies in the contract's window, as an event's time must."""
    window = request.app.state.limits.rules.window()
    try:
        window.check("submitted_at", inquiry.submitted_at)
    except PydanticCustomError as error:
        raise RequestValidationError(
            [
                {
                    "type": error.type,
                    "loc": ("body", "submitted_at"),
                    "msg": error.message(),
                    "input": None,
                }
            ]
        ) from None
