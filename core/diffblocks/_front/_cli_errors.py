"""How the CLI words an error: one message, in command-line terms (``--set``, spec files), never
Python-only details such as an exception's attributes."""

from __future__ import annotations

import re

from .._model._errors import BlockExecutionError, MissingComponentError, MissingInputError

_PYTHON_ONLY = " Values computed before it are kept on this exception's .state."
_PYTHON_COMPONENT_FIX = re.compile(
    r": call pipe\.update_components\(\w+=\.\.\.\) or pipe\.load_components\(path\)\."
)


def cli_message(exc: BaseException) -> str:
    """The text printed after ``diffblocks: error:`` for a user error."""
    if isinstance(exc, KeyError) and type(exc).__str__ is KeyError.__str__ and exc.args:
        return str(exc.args[0])  # KeyError's own str() quotes its text
    message = str(exc)
    if isinstance(exc, MissingInputError):
        message += "\nOn the command line, give inputs as --set name=value."
    if isinstance(exc, MissingComponentError):
        # the Python remedies (update_components / load_components) do not apply here
        message = _PYTHON_COMPONENT_FIX.sub(".", message)
        names = list(dict.fromkeys(comp for _, _, comp in getattr(exc, "missing", [])))
        example = names[0] if names else "unet"
        message += (
            "\nOn the command line, run a spec file that says where each component lives, e.g.:"
            f'\n  [components.{example}]\n  path = "/models/my-model"   (a local folder in diffusers layout)'
            "\n(docs: Composing by name and spec files, 'The format')"
        )
    if isinstance(exc, BlockExecutionError):
        message = message.replace(_PYTHON_ONLY, "")
        state = exc.state
        kept = sorted(k for k, v in getattr(state, "intermediates", {}).items() if v is not None)
        if kept:
            message += (
                f"\nComputed before the failure: {', '.join(kept)}. The command line does not keep "
                f"them; from Python, catch diffblocks.BlockExecutionError around the pipeline call "
                f"and read them from the error (err.state.get(name))."
            )
    return message
