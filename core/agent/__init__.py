"""Talking to the Pi agent: packing it into a zipapp and the client side of its protocol."""
