"""The platform launcher: installs, starts, checks and stops the PERRINN 424 platform natively
(local processes) or through docker compose. Entry point: ``./launchcommand.sh``."""
