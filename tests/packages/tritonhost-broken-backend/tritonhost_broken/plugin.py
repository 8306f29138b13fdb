"""A backend whose vendor SDK is not installed: importing it fails."""

import tritonhost_vendor_sdk  # noqa: F401  - deliberately absent
