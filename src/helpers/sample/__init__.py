"""Sample: a generated CX programme with planted truth, for tests and demos (not the product).

`program` generates a B2B and B2C survey export with defects and side files (its parts:
`planted_model`, `draws`, `b2b`, `b2c`, `comments`, `qualtrics_export`) and `writers` writes it;
`profiles` reshapes it; `market_data` a synthetic CX index with prices. Everything planted goes
to truth.json. May import only the core.
"""
