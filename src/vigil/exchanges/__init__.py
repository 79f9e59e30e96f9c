"""Exchanges: lists that keep themselves current from upstream sources (NCMEC hash sharing,
StopNCII, ThreatExchange, another Vigil, list files on disk or at a URL). Each kind is a
*client* (``vigil.exchanges.clients``: the HTTP protocol) and an *adapter*
(``vigil.exchanges.adapters``: how its records become list entries), registered as one
:class:`Exchange`; :func:`sync` runs one, under a lease, from its checkpoint;
:func:`feedback` and :func:`share` send opinions and local lists back. See docs/exchanges.md."""

from vigil.exchanges.adapters import files, ncmec, peer, stopncii, threatexchange
from vigil.exchanges.base import Exchange, ExchangeConfig, Feedback, Window, exchanges
from vigil.exchanges.store import ExchangeStore
from vigil.exchanges.sync import feedback, share, sync

del files, ncmec, peer, stopncii, threatexchange

__all__ = [
    "Exchange",
    "ExchangeConfig",
    "ExchangeStore",
    "Feedback",
    "Window",
    "exchanges",
    "feedback",
    "share",
    "sync",
]
