"""The cluster canvas: node boxes, arrows and flowing requests, and where the boxes go."""
