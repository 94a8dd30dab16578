"""Longest-prefix matching: URL routing and an IPv4 routing table.

Run it with ``python examples/routing.py``.
"""

from ipaddress import IPv4Address, IPv4Network

from blart import TreeMap

# --- URL routes -----------------------------------------------------------
# Every route ends with "/" and so does every path we look up.  Without that,
# "/api/v1/users" would also be a prefix of "/api/v1/usersettings".
routes = TreeMap(
    {
        "/about/": "about page",
        "/api/": "API index",
        "/api/v1/": "API v1 catch-all",
        "/api/v1/users/": "users handler",
        "/api/v1/users/me/": "current user handler",
        "/static/": "file server",
    }
)


def route(path: str) -> str:
    """The handler of the most specific route covering ``path``."""
    key = path if path.endswith("/") else path + "/"
    match = routes.longest_prefix(key)
    return "404 not found" if match is None else f"{match[1]}  (route {match[0]})"


print("URL routing:")
for path in [
    "/about",
    "/api/v1/users/42",
    "/api/v1/users/me",
    "/api/v1/usersettings",
    "/api/v2/x",
    "/static/css/a.css",
    "/blog/",
]:
    print(f"  {path:<22} -> {route(path)}")

# prefixes() yields every matching route, shortest first: a middleware chain.
chain = [handler for _, handler in routes.prefixes("/api/v1/users/me/")]
print("  middleware chain for /api/v1/users/me:", " -> ".join(chain))

# --- IPv4 routing table ---------------------------------------------------
# A network a.b.c.d/n is the string of its first n address bits; an address
# is routed by the longest of those strings that its 32 bits start with.


def bits(network: IPv4Network) -> str:
    return format(int(network.network_address), "032b")[: network.prefixlen]


table: TreeMap[tuple[IPv4Network, str]] = TreeMap()
for cidr, next_hop in [
    ("0.0.0.0/0", "upstream ISP (default route)"),
    ("10.0.0.0/8", "core router"),
    ("10.1.0.0/16", "site A"),
    ("10.1.2.0/24", "site A, lab VLAN"),
    ("192.168.0.0/16", "office LAN"),
]:
    network = IPv4Network(cidr)
    table[bits(network)] = (network, next_hop)

print("\nIPv4 forwarding:")
for address in ["10.1.2.3", "10.1.9.9", "10.200.0.1", "192.168.4.20", "8.8.8.8"]:
    key = format(int(IPv4Address(address)), "032b")
    match = table.longest_prefix(key)
    assert match is not None  # the default route, key "", is a prefix of every key
    network, next_hop = match[1]
    print(f"  {address:<13} via {network!s:<15} {next_hop}")
