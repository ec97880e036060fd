"""Whether an address stays on this machine: the only place Vigil speaks plain HTTP unless told otherwise.

A password, a session or device token or a face crop sent to a loopback address never reaches a network
interface; sent anywhere else it crosses one, readable by whoever is on the path, unless TLS protects it.
"""

import ipaddress

LOOPBACK_NAME = "localhost"
"""The host name that means this machine (RFC 6761)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IPv4/IPv6 address, brackets allowed) is this machine's loopback.

    ``0.0.0.0`` and ``::`` are not: a server bound there listens on every interface.
    """
    bare = host.strip().strip("[]").rstrip(".").lower()
    if bare == LOOPBACK_NAME:
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False
