"""The MQTT door listener: door controller messages in, ``door.*`` events out."""
