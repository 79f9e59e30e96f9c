"""The HTTP service (`vigil serve`): matching API, API keys and roles, health and metrics."""

from vigil.service.app import ServiceConfig, create_app
from vigil.service.keys import ROLES, ApiKey, KeyStore

__all__ = ["ROLES", "ApiKey", "KeyStore", "ServiceConfig", "create_app"]
