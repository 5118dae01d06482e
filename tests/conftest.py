import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from hypothesis import HealthCheck, settings

# Hypothesis profiles. "ci" (the default): few examples, derandomized and without the example
# database, so the default run is fast and does not depend on earlier runs. "thorough": the
# counts the property tests name through helpers.examples(n), random, with the database.
# Select with LPMECH_HYPOTHESIS_PROFILE=thorough. The big runs also exist as `slow` twins
# (python -m pytest -m slow).
settings.register_profile("ci", deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("LPMECH_HYPOTHESIS_PROFILE", "ci"))
