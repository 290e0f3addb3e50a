"""A leaky-bucket budget, as the channels count it (Shopify GraphQL: points
restored per second up to a maximum). The state lives in one database row per
backend so that every worker of every process spends from the same bucket;
this module only does the arithmetic."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Bucket:
    available: float
    maximum: float
    restore_rate: float

    def refilled(self, elapsed_seconds):
        return dataclasses.replace(
            self,
            available=min(
                self.maximum,
                self.available + max(elapsed_seconds, 0) * self.restore_rate,
            ),
        )

    def wait_for(self, cost):
        """Seconds until ``cost`` points are available (0 if they are)."""
        if cost > self.maximum:
            raise ValueError(f"a call costing {cost} can never fit in {self.maximum}")
        missing = cost - self.available
        return 0.0 if missing <= 0 else missing / self.restore_rate
