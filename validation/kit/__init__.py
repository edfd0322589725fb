"""The property-testing kit: strategies, assumptions as objects, counterexample search, the pytest plugin.

Its public face is :mod:`steerbounds.testing` (docs/testing.md); the modules here
are private. The kit reads measurements through the validation layer's checks
(``steerbounds.validation``) and never imports the studies.
"""
