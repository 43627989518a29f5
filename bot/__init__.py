"""Heard: feedback from families to their social workers.

`bot` holds the domain: message types, the pure conversation engine, question
sets, and the service that runs one engine step inside one database transaction.
"""
