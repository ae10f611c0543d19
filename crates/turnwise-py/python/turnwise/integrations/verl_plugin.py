"""Loaded by verl at import (entry point ``verl.plugins: turnwise``, or
``VERL_USE_EXTERNAL_MODULES=turnwise.integrations.verl_plugin``): registers turnwise's
estimators, reward manager and agent loop in the importing process."""

from .verl import install

install()
