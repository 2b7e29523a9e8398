"""What goes onto the Pis: `:deploy` (deploy.py: releases, waves, rollback) and `:config`
(configs.py: config files, drift, push and rollback)."""
