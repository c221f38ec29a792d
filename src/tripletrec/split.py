"""Train / test splits: random, leave-k-out, temporal and cold-start items.

See :mod:`tripletrec.data.split` for the implementation.
"""

from .data.split import cold_start_items, leave_k_out, random_split, temporal_split

__all__ = ["cold_start_items", "leave_k_out", "random_split", "temporal_split"]
