"""The model stage's own errors, each saying what went wrong and what to do next."""

from __future__ import annotations

from leadflow.errors import LeadflowError


class ModelError(LeadflowError, RuntimeError):
    """Base of every error the model stage raises on purpose."""


class NotEnoughLabelsError(ModelError):
    """fct_inquiries holds too few labelled inquiries (or no positives) to train and evaluate."""


class NoChampionError(ModelError):
    """No model has been trained into the registry yet."""


class ModelIntegrityError(ModelError):
    """A stored model does not match its version hash or holds types we do not trust."""


class WarehouseNotReadyError(ModelError):
    """A warehouse table the model stage reads is missing or lacks a documented column."""
