"""Real peers the tests start on loopback, from other ecosystems (npm)."""
