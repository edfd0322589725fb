"""steerbounds.theory"""
