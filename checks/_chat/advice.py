"""Placeholder: the chat lesson's advice, registered with the diagnosis (filled by the
evidence branch)."""
