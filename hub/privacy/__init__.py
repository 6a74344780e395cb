"""Personal data that can be forgotten on a log that cannot: crypto-shredding.

The personal parts of every event the hub publishes (a person's identifiers, name and date of
birth, and free text about them) are sealed with a data key of that person, or of their case. The
data keys live in the store, wrapped by a key-encryption key that is never written to Kafka.
Destroying a person's data keys makes every copy of their personal data unreadable at once: in
every topic, retry tier, dead letter and backup, with no rewriting of the log.

- ``keys``: the key-encryption key, its pluggable interface, and keyed blind indexes;
- ``sealing``: which parts of an event are personal, and sealing and opening them (pure);
- ``keystore``: the data keys in the store;
- ``service``: the two together, as the publisher, the delivery core and the dispatcher use them;
- ``erasure``: destroying a person's keys and redacting the projection, with an erasure log.
"""
