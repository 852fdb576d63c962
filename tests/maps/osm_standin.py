"""A local stand-in for the Overpass and Nominatim APIs, serving one OSM extract.

It answers the same HTTP requests OSMnx makes (``POST /interpreter`` with an
Overpass QL query, ``GET /search`` for geocoding) from data read with osmium, so
the online fetch path runs for real without the internet. Only 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import osmium
import shapely

_POLY = re.compile(r"poly:['\"]([-0-9. ]+)['\"]")


class OsmStandIn:
    """Serve ``extract`` on 127.0.0.1; ``places`` maps a place name to a polygon."""

    def __init__(self, extract: Path, places: dict[str, shapely.Polygon]) -> None:
        self.places = places
        self.nodes: dict[int, dict] = {}
        self.ways: list[dict] = []
        for obj in osmium.FileProcessor(str(extract)):
            if obj.is_node():
                self.nodes[obj.id] = {
                    "type": "node",
                    "id": obj.id,
                    "lat": obj.location.lat,
                    "lon": obj.location.lon,
                    "tags": dict(obj.tags),
                }
            elif obj.is_way():
                self.ways.append(
                    {
                        "type": "way",
                        "id": obj.id,
                        "nodes": [n.ref for n in obj.nodes],
                        "tags": dict(obj.tags),
                    }
                )
        self.requests: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urllib.parse.urlparse(self.path)
                standin.requests.append(f"GET {url.path}")
                if url.path.rstrip("/").endswith("/search"):
                    query = urllib.parse.parse_qs(url.query).get("q", [""])[0]
                    self._send(standin.geocode(query))
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                standin.requests.append(f"POST {self.path}")
                if self.path.rstrip("/").endswith("/interpreter"):
                    self._send(standin.overpass(form.get("data", [""])[0]))
                else:
                    self.send_error(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def geocode(self, query: str) -> list[dict]:
        polygon = self.places.get(query)
        if polygon is None:
            return []
        west, south, east, north = polygon.bounds
        return [
            {
                "place_id": 1,
                "osm_type": "relation",
                "osm_id": 1,
                "lat": str(polygon.centroid.y),
                "lon": str(polygon.centroid.x),
                "display_name": query,
                "class": "boundary",
                "type": "administrative",
                "importance": 0.9,
                "boundingbox": [str(south), str(north), str(west), str(east)],
                "geojson": shapely.geometry.mapping(polygon),
            }
        ]

    def overpass(self, query: str) -> dict:
        """Ways with a node inside the query polygon(s), plus all their nodes (``>``)."""
        elements: dict[tuple[str, int], dict] = {}
        for coords in _POLY.findall(query):
            values = [float(v) for v in coords.split()]
            polygon = shapely.Polygon(list(zip(values[1::2], values[0::2], strict=True)))
            shapely.prepare(polygon)
            for way in self.ways:
                if any(
                    polygon.contains(shapely.Point(self.nodes[n]["lon"], self.nodes[n]["lat"]))
                    for n in way["nodes"]
                    if n in self.nodes
                ):
                    elements[("way", way["id"])] = way
                    for n in way["nodes"]:
                        if n in self.nodes:
                            elements[("node", n)] = self.nodes[n]
        return {
            "version": 0.6,
            "generator": "twin test stand-in",
            "elements": list(elements.values()),
        }

    def __enter__(self) -> OsmStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
