"""Pure analysis functions: arrays in, frozen result dataclasses out."""
