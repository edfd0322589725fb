"""steerbounds.numerics"""
