"""steerbounds.validation"""
