"""The Bedrock base models the provider trains, with what each takes.

Bedrock's training data format and hyperparameters depend on the base model
family, so a job on a model outside this table is refused (a 400 naming the
families) rather than sent with a guessed format. Sources (read December
2026): the Amazon Bedrock User Guide pages "Custom model hyperparameters"
(``cm-hp-nova-mm``, ``cm-hp-titan-text``, ``cm-hp-anth-claude-3``) and
"Prepare data for fine-tuning text-to-text models" (``preparing-text-data``,
``distillation-data-prep-option-1``: Anthropic and Meta models take
single-turn conversations only, Amazon Nova multi-turn ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ProviderInputError

#: Bedrock's conversation schema (``schemaVersion`` of each record).
CONVERSATION = "bedrock-conversation-2024"
#: ``{"prompt", "completion"}`` records.
PROMPT_COMPLETION = "prompt-completion"


@dataclass(frozen=True)
class Bound:
    """One Bedrock hyperparameter: its API name, type and documented range."""

    name: str
    integer: bool
    minimum: float
    maximum: float

    def render(self, value: object, given_as: str, model: str) -> str:
        """The value as Bedrock takes it (a string), or a 400 naming it."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProviderInputError(
                f"hyperparameters.{given_as} must be a number for {model} on Bedrock.",
                param=f"hyperparameters.{given_as}",
            )
        if self.integer and float(value) != int(value):
            raise ProviderInputError(
                f"hyperparameters.{given_as} must be a whole number for {model} on Bedrock.",
                param=f"hyperparameters.{given_as}",
            )
        if not self.minimum <= value <= self.maximum:
            raise ProviderInputError(
                f"hyperparameters.{given_as} must be between {self.minimum:g} and "
                f"{self.maximum:g} for {model} on Bedrock (its {self.name}).",
                param=f"hyperparameters.{given_as}",
            )
        return str(int(value)) if self.integer else repr(float(value))


@dataclass(frozen=True)
class Family:
    """A family of base models: one data format, one set of hyperparameters."""

    label: str
    prefixes: tuple[str, ...]
    data_format: str
    #: False: one user message and one assistant answer per record.
    multi_turn: bool
    #: OpenAI's (or the gateway's) hyperparameter name → Bedrock's bound.
    hyperparameters: dict[str, Bound]


_EPOCHS_1_5 = Bound("epochCount", True, 1, 5)
FAMILIES: tuple[Family, ...] = (
    Family(
        "Amazon Nova (Micro, Lite, Pro)",
        ("amazon.nova-micro", "amazon.nova-lite", "amazon.nova-pro"),
        CONVERSATION,
        True,
        {
            "n_epochs": _EPOCHS_1_5,
            "learning_rate": Bound("learningRate", False, 1e-6, 1e-4),
            "learning_rate_warmup_steps": Bound("learningRateWarmupSteps", True, 0, 100),
        },
    ),
    Family(
        "Anthropic Claude 3 Haiku",
        ("anthropic.claude-3-haiku",),
        CONVERSATION,
        False,
        {
            "n_epochs": Bound("epochCount", True, 1, 10),
            "batch_size": Bound("batchSize", True, 4, 256),
            "learning_rate_multiplier": Bound("learningRateMultiplier", False, 0.1, 2),
            "early_stopping_threshold": Bound("earlyStoppingThreshold", False, 0, 0.1),
            "early_stopping_patience": Bound("earlyStoppingPatience", True, 1, 10),
        },
    ),
    Family(
        "Amazon Titan Text (Express, Lite)",
        ("amazon.titan-text-express", "amazon.titan-text-lite"),
        PROMPT_COMPLETION,
        False,
        {
            "n_epochs": Bound("epochCount", True, 1, 10),
            "batch_size": Bound("batchSize", True, 1, 64),
            "learning_rate": Bound("learningRate", False, 0, 1),
            "learning_rate_warmup_steps": Bound("learningRateWarmupSteps", True, 0, 250),
        },
    ),
)

#: Hyperparameters some family takes besides OpenAI's.
EXTRA_HYPERPARAMETERS = frozenset(
    name
    for family in FAMILIES
    for name in family.hyperparameters
    if name not in {"n_epochs", "batch_size", "learning_rate_multiplier"}
)


def model_id(model: str) -> str:
    """The model id in a foundation-model ARN (``arn:…:foundation-model/<id>``),
    or ``model`` itself."""
    return model.rsplit("foundation-model/", 1)[-1]


def family_of(model: str) -> Family:
    """The family of the base model ``model`` (an id or a foundation-model
    ARN), or a 400 naming the families this gateway trains on Bedrock."""
    name = model_id(model or "")
    for family in FAMILIES:
        if name.startswith(family.prefixes):
            return family
    known = "; ".join(f"{f.label}: {', '.join(f.prefixes)}…" for f in FAMILIES)
    raise ProviderInputError(
        f"The model {model!r} is not one this gateway fine-tunes on Bedrock ({known}).",
        param="model",
        code="model_not_available",
    )


def bedrock_hyperparameters(model: str, given: dict[str, object] | None) -> dict[str, str]:
    """OpenAI-named hyperparameters as Bedrock's ``hyperParameters`` (strings);
    ``"auto"`` leaves Bedrock's default; a name the family lacks is a 400."""
    family = family_of(model)
    rendered: dict[str, str] = {}
    for key, value in (given or {}).items():
        if value is None or value == "auto":
            continue
        bound = family.hyperparameters.get(key)
        if bound is None:
            accepted = ", ".join(sorted(family.hyperparameters))
            raise ProviderInputError(
                f"hyperparameters.{key} is not a hyperparameter of {family.label} on Bedrock "
                f"(it takes {accepted}).",
                param=f"hyperparameters.{key}",
            )
        rendered[bound.name] = bound.render(value, key, model_id(model))
    return rendered


def openai_hyperparameters(model: str, sent: dict[str, str] | None) -> dict[str, object]:
    """Bedrock's ``hyperParameters`` back in the names the user sent."""
    try:
        family = family_of(model)
    except ProviderInputError:
        return dict(sent or {})
    names = {bound.name: (key, bound) for key, bound in family.hyperparameters.items()}
    shown: dict[str, object] = {}
    for name, value in (sent or {}).items():
        key, bound = names.get(name, (name, None))
        try:
            shown[key] = (int(value) if bound.integer else float(value)) if bound else value
        except ValueError:
            shown[key] = value
    return shown
