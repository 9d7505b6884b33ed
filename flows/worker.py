"""Imported once by the server process that forks the flow's step workers (:mod:`flows.offload`).

Importing it loads what every step worker needs: the steps' modules, numba and the compiled
kernels, the per-code-point tables and the dictionaries (:func:`cleaning.warmup.warm_up`), so each
worker forked afterwards starts with them in memory instead of loading them on its first step.
It is meant for that server process only: anywhere else the import just pays for the warm-up.
"""

import flows.steps  # noqa: F401  (the steps the workers run, imported before they fork)
from cleaning.warmup import warm_up

warm_up()
