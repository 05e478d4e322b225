"""The one exception the engine raises for requests it cannot serve.

`category` tells the server how to answer: "user" (a bad request: 4xx), "not_found" (an unknown
model, sampler or checkpoint: 404) or "server" (our fault: 5xx).
"""

from __future__ import annotations


class EngineError(Exception):
    def __init__(self, message: str, category: str = "user") -> None:
        super().__init__(message)
        self.message = message
        self.category = category
