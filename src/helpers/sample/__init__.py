"""Sample: a generated CX programme with planted truth, for tests and demos (not the product).

`program` writes a B2B and B2C survey export with defects and side files; `market_data` a
synthetic CX index with prices. Everything planted goes to truth.json. May import only the core.
"""
