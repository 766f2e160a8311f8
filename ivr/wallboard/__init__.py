"""The live wallboard: a big screen of the centre's figures, pushed within a second of each change.

See docs/wallboard.md.
"""
