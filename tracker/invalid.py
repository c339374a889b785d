"""The one "input refused" exception, raised by the core and the services, shown by each interface.

A refusal names each bad field (as the service calls it, e.g. "treated_at" or
"symptoms.bruising.onset_at") with a message for the person who typed it. The pages put each
message next to its field (`forms.Form.show_refusal`), the API answers 422 with the same
`fields`, and the command line prints the messages.
"""

from __future__ import annotations

from collections.abc import Mapping


class InvalidInput(ValueError):
    """Input was refused; `fields` maps each bad field to a message for the person."""

    def __init__(self, fields: Mapping[str, str]):
        self.fields = dict(fields)
        super().__init__(" ".join(self.fields.values()))

    @classmethod
    def on(cls, field: str, message: str) -> InvalidInput:
        """A refusal of one field."""
        return cls({field: message})
