"""The model card: what a score means, how it was tested and its known limits, written for
a sales manager, beside every model version in the registry (model_card.md)."""

from __future__ import annotations

from typing import Any

from models.features import FACTORS
from transforms import CONVERSION_WINDOW_DAYS

CALIBRATED_ECE = 0.03
"""Below this expected calibration error on the test period, the card calls the
probabilities calibrated."""

_MOMENT_NAMES = {
    "submitted": "on submission",
    "assigned": "once assigned to a rep or distributor",
    "contacted": "after the first contact",
    "quoted": "after the first quote",
    "customization_answered": "after the factory's customisation answer",
    "day_2": "two days after submission",
    "day_7": "a week after submission",
    "day_21": "three weeks after submission",
}


def write_model_card(version: str, metrics: dict[str, Any]) -> str:
    """The model card of one version, in Markdown."""
    model, baseline = metrics["model"], metrics["baseline"]
    truth = metrics.get("truth")
    window = metrics["data_window"]
    lines = [
        f"# Conversion model {version}",
        "",
        "## What the score means",
        "",
        "Each open inquiry gets a **probability** that it turns into an order within "
        f"{CONVERSION_WINDOW_DAYS} days "
        "of submission, shown as a **score from 0 to 100** (the probability in per cent) "
        "and a **tier**:",
        "",
        "| tier | score | meaning |",
        "|---|---|---|",
    ]
    thresholds = metrics["tier_thresholds"]
    bounds = [*thresholds.values(), 0.0]
    upper = 100
    for (tier, lowest), _ in zip(thresholds.items(), bounds, strict=False):
        lines.append(
            f"| {tier} | {round(lowest * 100)}–{upper} | at least {round(lowest * 100)} in 100 "
            "such inquiries convert |"
        )
        upper = round(lowest * 100) - 1
    ece = metrics["ece"]
    if ece <= CALIBRATED_ECE:
        honesty = (
            f"The probabilities are calibrated (expected calibration error {ece:.3f} on the "
            "test period): of all inquiries scored 30, about 30 in 100 convert."
        )
    else:
        honesty = (
            f"**The probabilities are not calibrated on the test period** (expected "
            f"calibration error {ece:.3f}, above {CALIBRATED_ECE}): read the score as a "
            "ranking, not as a chance, until a retrained model does better (see the "
            "reliability table below)."
        )
    lines += [
        f"| D | 0–{upper} | fewer than {upper + 1} in 100 convert |",
        "",
        f"{honesty} The tier thresholds are fixed probability levels, so a tier means the "
        "same after every retraining.",
        "",
        "Every score comes with its **three strongest reasons**, for example *“target price "
        "35 % below our list price — lowers the score by 6 points”*. The points are exact: "
        "if that factor were ordinary (the most common value in past inquiries) the score "
        "would move by that many points. The factors are:",
        "",
    ]
    for factor in FACTORS:
        reason = f" (lost reason: {factor.lost_reason})" if factor.lost_reason else ""
        lines.append(f"- **{factor.label}**{reason}")
    lines += [
        "",
        "The score is recomputed as the inquiry moves: after assignment, each contact, quote "
        "and customisation answer, and as days pass without contact.",
        "",
        "## How it was tested",
        "",
        f"Trained on {metrics['n_train']} inquiries submitted {window['train_from'][:10]} to "
        f"{window['validation_to'][:10]} whose outcome is known, and tested on the "
        f"{metrics['n_eval']} later inquiries submitted {window['eval_from'][:10]} to "
        f"{window['eval_to'][:10]}, which it never saw. Figures are measured "
        f"{_MOMENT_NAMES[metrics['headline_moment']]}.",
        "",
        "| | this model | simple rule (channel + price gap) | best possible* |",
        "|---|---|---|---|",
    ]

    def row(name: str, key: str, fmt: str) -> str:
        best = format(truth[key], fmt) if truth else "n/a"
        return f"| {name} | {format(model[key], fmt)} | {format(baseline[key], fmt)} | {best} |"

    lines += [
        row("ranking (AUC, 0.5 = coin toss, 1 = perfect)", "auc", ".3f"),
        row("conversion in the top 10 % vs average (lift)", "top_decile_lift", ".2f"),
        row("precision-recall (PR-AUC)", "pr_auc", ".3f"),
        row("probability error (Brier, lower is better)", "brier", ".4f"),
        row("calibration error (ECE, lower is better)", "ece", ".3f"),
        "",
        "\\* *best possible* is the simulator's true probability of each inquiry given "
        "everything its events record: no model of these events can rank better than it "
        "(only available on simulated data).",
        "",
        "Ranking at each step of the sales process (AUC):",
        "",
    ]
    for moment, auc in metrics["auc_by_moment"].items():
        lines.append(f"- {_MOMENT_NAMES.get(moment, moment)}: {auc:.3f}")
    lines += [
        "",
        "Reliability on the test period (inquiries in tenths by predicted probability):",
        "",
        "| inquiries | predicted | converted |",
        "|---|---|---|",
    ]
    for cell in metrics["calibration_bins"]:
        lines.append(
            f"| {cell['n']} | {100 * cell['mean_probability']:.1f} % | {100 * cell['rate']:.1f} % |"
        )
    lines += ["", "Tiers on the test period:", "", "| tier | share of inquiries | converted |",
              "|---|---|---|"]  # fmt: skip
    for tier, cell in metrics["tiers_eval"].items():
        rate = cell["conversion_rate"]
        share = cell.get("share") or 0.0
        lines.append(
            f"| {tier} | {100 * share:.0f} % | {'–' if rate is None else f'{100 * rate:.0f} %'} |"
        )
    lines += [
        "",
        "## Known limits",
        "",
        "- It learns from the past: a new product line, channel or price list is scored like "
        "the nearest thing it has seen until it is retrained (`leadflow train`); "
        "`leadflow model drift` says when today's inquiries no longer look like the training "
        "data.",
        "- It sees only what is recorded: a buyer's real urgency, budget or a phone call "
        "nobody logged are invisible to it. A good salesperson's judgement still counts.",
        "- Reasons are associations in past data, not proof of cause: “distributor X” "
        "lowering the score says inquiries routed there converted less often.",
        "- A buyer's history is matched on the email, phone and CRM account given with the "
        "inquiry; a buyer who writes from a new address looks new.",
        f"- Inquiries younger than {CONVERSION_WINDOW_DAYS} days are not used for training or "
        "testing, even those "
        "already won or lost: the ones that resolve early are not typical (more of them "
        f"are quick wins). {metrics.get('n_set_aside', 0)} such inquiries were set aside "
        "this time; the most recent weeks teach the model nothing yet.",
        "",
    ]
    return "\n".join(lines)
