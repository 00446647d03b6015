"""The planted model of the sample programme: what later analyses should find.

Driver items and their true effects on likelihood to recommend (top 3 differ by market), the
quarter-end penalty, competitors, the B2C population margins and the sample's selection bias,
the B2B accounts' tiers and regions, the names of contacts and the phrases of comments.
:func:`helpers.sample.program.generate` records the planted values in ``truth.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SALES_ITEMS = {
    "sales_needs": "Understood our needs",
    "sales_expectations": "Set realistic expectations",
    "sales_pricing": "Pricing was transparent",
    "sales_responsiveness": "Responded quickly to our questions",
    "sales_knowledge": "Knew the product well",
}
IMPL_ITEMS = {
    "impl_on_time": "Delivered on time",
    "impl_on_budget": "Delivered on budget",
    "impl_onboarding": "Onboarding and training",
    "impl_communication": "Project communication",
    "impl_time_to_value": "Time to value",
}
TOUCHPOINT_ITEMS = {
    "tp_purchase": "Ease of purchase",
    "tp_delivery": "Delivery",
    "tp_quality": "Product quality",
    "tp_support": "Customer support",
    "tp_value": "Value for money",
    "tp_app": "App and website",
}
# True effect on LTR (0-10 points) per item point (1-5 scale). Top 3 differ by market.
B2B_EFFECTS = {
    "impl_time_to_value": 0.85, "sales_expectations": 0.75, "impl_onboarding": 0.60,
    "sales_needs": 0.25, "impl_communication": 0.15, "sales_responsiveness": 0.15,
    "impl_on_time": 0.10, "sales_knowledge": 0.10, "sales_pricing": 0.08, "impl_on_budget": 0.05,
}
B2C_EFFECTS = {
    "tp_quality": 0.85, "tp_support": 0.70, "tp_value": 0.55,
    "tp_delivery": 0.20, "tp_purchase": 0.12, "tp_app": 0.08,
}
QUARTER_END_IMPL_PENALTY = -0.8   # item points on every implementation item
QUARTER_END_SLIP_DAYS = 35.0      # extra go-live slip for deals rushed at quarter end
COMPETITORS = {"Northwind": 0.9, "Contoso": -0.6, "Globex": -1.4, "Initech": 0.0}  # LTR shift vs us
POPULATION_MARGINS = {
    "channel": {"Online": 0.50, "Store": 0.30, "Phone": 0.20},
    "age_band": {"18-34": 0.30, "35-54": 0.40, "55+": 0.30},
    "region": {"NA": 0.40, "EMEA": 0.30, "APAC": 0.20, "LATAM": 0.10},
}
# Selection bias of the B2C sample (who answers): online and young over-represented.
B2C_SELECTION = {"channel": {"Online": 1.8, "Store": 0.7, "Phone": 0.5},
                 "age_band": {"18-34": 1.7, "35-54": 0.9, "55+": 0.6},
                 "region": {"NA": 1.0, "EMEA": 1.0, "APAC": 1.0, "LATAM": 1.0}}
B2C_LTR_SHIFT = {"channel": {"Online": -0.4, "Store": 0.6, "Phone": 0.0},
                 "age_band": {"18-34": -0.6, "35-54": 0.0, "55+": 0.7}}
INDUSTRIES = ["Software", "Manufacturing", "Financial services", "Healthcare", "Retail", "Public sector"]
TIERS = {"Enterprise": 0.2, "Mid-market": 0.35, "SMB": 0.45}
TIER_ARR = {"Enterprise": 400_000.0, "Mid-market": 90_000.0, "SMB": 18_000.0}
REGIONS_B2B = {"NA": 0.45, "EMEA": 0.30, "APAC": 0.17, "LATAM": 0.08}
ROLE_LTR = {"decision_maker": -0.3, "influencer": 0.0, "user": 0.25}
# Log-odds of answering an invitation by role (on top of an account effect; tier has none).
ROLE_RESPONSE_LOGODDS = {"decision_maker": -0.35, "influencer": 0.0, "user": 0.15}
LAST_WAVE = pd.Period("2026Q3", freq="Q")
MEDIAN_DURATION_S = 360.0
COMPANY = "Acme Cloud"

FIRST_NAMES = np.array(["Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
                        "Kemal", "Lena", "Marco", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sven", "Tara",
                        "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe"])
LAST_NAMES = np.array(["Schmidt", "Okafor", "Rossi", "Tanaka", "Novak", "Garcia", "Lindqvist", "Dubois",
                       "Kowalski", "Haddad", "Murphy", "Sato", "Jensen", "Silva", "Moreau", "Becker", "Ivanova",
                       "Nguyen", "Fischer", "Costa"])

POSITIVE = {
    "sales_needs": ["The sales team really understood what we needed.", "They took time to learn our business."],
    "sales_expectations": ["Everything promised in the sales cycle was delivered.",
                           "Expectations set during the sale were realistic and met."],
    "sales_pricing": ["Pricing was clear with no surprises.", "Transparent pricing from day one."],
    "sales_responsiveness": ["Our rep always answered quickly.", "Fast answers to every question."],
    "sales_knowledge": ["The rep knew the product inside out.", "Very knowledgeable sales engineers."],
    "impl_on_time": ["Go-live happened on the planned date.", "The project finished on schedule."],
    "impl_on_budget": ["Implementation stayed within budget.", "No cost overruns at all."],
    "impl_onboarding": ["Onboarding and training were excellent.", "Great training, the team was productive fast."],
    "impl_communication": ["Project communication was clear and regular.", "We always knew the project status."],
    "impl_time_to_value": ["We saw value within weeks.", "Quick time to value, it paid off fast."],
    "tp_purchase": ["Buying was quick and easy.", "Checkout took a minute."],
    "tp_delivery": ["Delivery was fast.", "Arrived earlier than promised."],
    "tp_quality": ["The product quality is excellent.", "Great quality, it just works."],
    "tp_support": ["Support solved my problem right away.", "Friendly and helpful support staff."],
    "tp_value": ["Great value for money.", "Worth every cent."],
    "tp_app": ["The app is easy to use.", "Love the website and app."],
}
NEGATIVE = {
    "sales_needs": ["Sales never understood our requirements.", "They pitched features we did not need."],
    "sales_expectations": ["The sales team overpromised and the product did not deliver.",
                           "What we were sold is not what we got."],
    "sales_pricing": ["Hidden costs appeared after signing.", "Pricing was confusing and kept changing."],
    "sales_responsiveness": ["Our rep took weeks to reply.", "Hard to get answers from sales."],
    "sales_knowledge": ["The rep did not know the product.", "Sales could not answer technical questions."],
    "impl_on_time": ["Go-live slipped by months.", "The implementation was badly delayed."],
    "impl_on_budget": ["The project went far over budget.", "Implementation costs doubled."],
    "impl_onboarding": ["Onboarding was a mess and training was poor.", "No proper training for our users."],
    "impl_communication": ["Nobody told us what was happening in the project.", "Poor project communication."],
    "impl_time_to_value": ["Still no value after a year.", "It took far too long to see any benefit."],
    "tp_purchase": ["Checkout kept failing.", "Buying was complicated."],
    "tp_delivery": ["Delivery was late again.", "My order arrived damaged and late."],
    "tp_quality": ["The product broke after a week.", "Poor quality for the price."],
    "tp_support": ["Support never solved my issue.", "Waited an hour to reach support."],
    "tp_value": ["Too expensive for what you get.", "Not worth the money."],
    "tp_app": ["The app keeps crashing.", "The website is confusing."],
}
