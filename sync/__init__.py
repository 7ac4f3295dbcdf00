"""API Sync: keeps each client's Shopify and Amazon seller data in their own database.

Data flows one way: claim (store) -> fetch (platforms) -> dedup (hashing) -> store -> record (results).
The README has a map of the modules.
"""

__version__ = "0.1.0"
