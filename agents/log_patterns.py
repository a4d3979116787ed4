"""Pattern mining: Drain3 behind one front door, with generic pre-processing and bounded memory."""

from __future__ import annotations

from functools import lru_cache

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from agents.masking import mask_variables, strip_prefix

MAX_CLUSTERS = 5000


class PatternMiner:
    """Assigns each log message a pattern id; `template(id)` is the pattern's current template."""

    def __init__(self, sim_th: float = 0.4, depth: int = 4, max_clusters: int = MAX_CLUSTERS):
        config = TemplateMinerConfig()
        config.drain_sim_th = sim_th
        config.drain_depth = depth
        config.drain_max_clusters = max_clusters
        config.parametrize_numeric_tokens = True
        config.drain_extra_delimiters = ["=", ","]
        config.mask_prefix, config.mask_suffix = "<", ">"
        self._miner = TemplateMiner(config=config)
        self._prepare = lru_cache(maxsize=65536)(self._preprocess)

    @staticmethod
    def _preprocess(message: str) -> str:
        return mask_variables(strip_prefix(message.strip()))[:2000]

    def add(self, message: str) -> int:
        result = self._miner.add_log_message(self._prepare(message))
        return int(result["cluster_id"])

    def template(self, pattern_id: int) -> str:
        cluster = self._miner.drain.id_to_cluster.get(pattern_id)
        return cluster.get_template() if cluster is not None else ""

    @property
    def pattern_count(self) -> int:
        return len(self._miner.drain.clusters)
