"""Plug-ins for the training frameworks people scale out on: :mod:`.verl` (advantage
estimators, a reward manager and an agent loop), :mod:`.skyrl` (advantage estimators) and
:mod:`.trl` (a GRPOTrainer on turnwise environments with turn-level advantages). Each
imports its framework lazily: ``import turnwise`` never needs them."""
