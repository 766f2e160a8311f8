"""Open311 GeoReport v2 (JSON): web, WeChat and app front ends file requests and follow them."""
