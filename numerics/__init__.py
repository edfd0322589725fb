"""steerbounds.numerics"""

__all__: list[str] = []
