"""Assemble a result where every field names its source or says why it is missing."""

from __future__ import annotations

from .paths import Missing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Tuple

    Reading = Tuple[Any, str]


class Collector:
    def __init__(self) -> None:
        self.result: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.missing: dict[str, str] = {}

    def put(self, field: str, value: Any, source: str) -> None:
        self.result[field] = value
        if value is None:
            self.missing.setdefault(field, "no value from %s" % source)
        else:
            self.sources[field] = source
            self.missing.pop(field, None)

    def miss(self, field: str, reason: str) -> None:
        self.result[field] = None
        self.sources.pop(field, None)
        self.missing[field] = reason

    def run(self, field: str, fn: Callable[[], Reading]) -> Any:
        """Call ``fn`` -> (value, source); any failure becomes ``null`` plus a reason."""
        try:
            value, source = fn()
        except Missing as e:
            self.miss(field, str(e))
            return None
        except Exception as e:  # a sensor must never take the agent down
            self.miss(field, "%s: %s" % (type(e).__name__, e))
            return None
        self.put(field, value, source)
        return value

    def first(self, field: str, *fns: Callable[[], Reading]) -> Any:
        """Try sources in order; report every reason if none works."""
        reasons = []
        for fn in fns:
            try:
                value, source = fn()
            except Missing as e:
                reasons.append(str(e))
                continue
            except Exception as e:
                reasons.append("%s: %s" % (type(e).__name__, e))
                continue
            if value is not None:
                self.put(field, value, source)
                return value
        self.miss(field, "; ".join(reasons) or "no source")
        return None

    def finish(self) -> dict[str, Any]:
        out = dict(self.result)
        out["sources"] = dict(self.sources)
        out["missing"] = dict(self.missing)
        return out
