"""steerbounds.theory"""

__all__: list[str] = []
