"""The one training harness shared by the dialogue (``finetune.training``) and sentiment
(``finetune.sentiment``) trainers.

Each trainer keeps only what differs (its model, data and metrics); here live the recipe
base (``recipe``), the dotted ``--set`` overrides (``overrides``), the step loop
(``loop``), checkpoints (``checkpoint``), the EWC penalty and forgetting arithmetic
(``continual``) and the ``eval.json``/``eval.md`` writer (``report``).
"""
