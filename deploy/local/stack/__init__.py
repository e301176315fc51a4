"""Local infrastructure for Chorus without Docker: Kafka (KRaft), a MongoDB wire server and,
on request, Keycloak as the OpenID Connect provider; Jaeger (traces) from Python.

Standard library only: ``devstack.py`` runs it before the project's virtualenv exists.

- ``toolchain``: Java, Maven and Go; Kafka's jars, Keycloak, FerretDB and Jaeger, once each;
- ``probes``: the real requests that tell whether a server answers;
- ``processes``: process groups, liveness, and the state file of the command line;
- ``servers``: ``KafkaServer``, ``MongoServer``, ``KeycloakServer``, ``JaegerServer``;
- ``cli``: ``devstack.py start | stop | env | status``.

Everything downloaded, built or stored goes under one cache folder: ``$CHORUS_CACHE`` or
``<repo>/.cache``.
"""
