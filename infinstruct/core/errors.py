"""The one error tree of infinstruct.

::

    InfinstructError
    ├── ConfigError            (ValueError)   bad setting, recipe or CLI value
    ├── InputError             (ValueError)   bad user input (path, id, query)
    │   ├── ConnectorError                    no connector fits / a file cannot be read
    │   ├── QuarantineError                   a bad record under --strict
    │   └── LimitError                        a size/bomb limit was hit
    ├── NotFoundError          (LookupError)  a named thing does not exist
    ├── StorageError           (RuntimeError) the database is unreachable or inconsistent
    ├── IndexStoreError        (RuntimeError) the retrieval index is missing or broken
    ├── ModelLoadError         (RuntimeError) a model cannot be loaded
    ├── GenerationError        (RuntimeError) a reply's generation failed or ran out of time
    ├── TrainingError          (RuntimeError) a training run failed
    ├── RegistryGateError      (RuntimeError) a candidate model regresses; activation refused
    ├── AuthError              (PermissionError) login / role refusal
    └── DeliveryError          (RuntimeError) an alert could not be delivered

Every message names the bad value and the fix. Each boundary (CLI root, UI handler,
scheduled job) translates these once; ``exit_code`` says how the CLI exits:
2 for usage/input errors a user can fix, 1 for internal failures.
"""

from __future__ import annotations


class InfinstructError(Exception):
    """Base of every error infinstruct raises on purpose."""

    exit_code = 1


class ConfigError(InfinstructError, ValueError):
    exit_code = 2


class InputError(InfinstructError, ValueError):
    exit_code = 2


class ConnectorError(InputError):
    pass


class QuarantineError(InputError):
    pass


class LimitError(InputError):
    pass


class NotFoundError(InfinstructError, LookupError):
    exit_code = 2


class StorageError(InfinstructError, RuntimeError):
    pass


class IndexStoreError(InfinstructError, RuntimeError):
    pass


class ModelLoadError(InfinstructError, RuntimeError):
    pass


class GenerationError(InfinstructError, RuntimeError):
    pass


class TrainingError(InfinstructError, RuntimeError):
    pass


class RegistryGateError(InfinstructError, RuntimeError):
    exit_code = 2


class AuthError(InfinstructError, PermissionError):
    exit_code = 2


class DeliveryError(InfinstructError, RuntimeError):
    pass
