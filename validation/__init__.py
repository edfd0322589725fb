"""steerbounds.validation"""

__all__: list[str] = []
