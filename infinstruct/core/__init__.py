"""Shared core: settings, errors, storage, protocols and the services every part shares.

Nothing in here imports ``infinstruct.connectors``, ``infinstruct.finetune`` or
``infinstruct.ui`` (enforced by the import-linter contracts in ``pyproject.toml``).
"""
