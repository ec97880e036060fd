"""The fixtures the verification tests share with others: the control room signed in (``desk``: Sam, a supervisor,
and Olivia, an operator) and the street of units around the camera (``street``)."""

from tests.command.deployments.conftest import desk  # noqa: F401  (fixture)
from tests.command.incidents.test_service import street  # noqa: F401  (fixture)
