#!/bin/sh
# Make a door controller's broker credentials (and optionally its HMAC key), shown once:
#   deploy/mosquitto/add-controller.sh DOOR_ID PASSWORD_FILE [DOOR_KEYS_FILE]
# The controller signs in with its door id as user name; the ACL lets it publish only to
# doors/<door id>/events and doors/<door id>/send. Reload the broker afterwards
# (kill -HUP, or `docker compose kill -s HUP mosquitto`).
set -eu
if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
  echo "usage: $0 DOOR_ID PASSWORD_FILE [DOOR_KEYS_FILE]" >&2
  exit 2
fi
if [ "$#" -eq 3 ]; then
  exec compoundeye door-credentials "$1" --password-file "$2" --keys-file "$3"
fi
exec compoundeye door-credentials "$1" --password-file "$2"
