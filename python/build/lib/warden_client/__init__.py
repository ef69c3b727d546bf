"""Warden's Python client: `Client(url, token=...)`, one method per API operation, and notebook helpers.

    from warden_client import Client
    warden = Client("http://127.0.0.1:8700")
    warden.register("credit", pipeline, reference=df, target="risk", protected=["sex"])
"""

from ._client import Client
from ._errors import WardenError

__all__ = ["Client", "WardenError"]
__version__ = "0.1.0"
