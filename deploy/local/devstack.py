#!/usr/bin/env python3
"""Local infrastructure for Chorus without Docker: Kafka (KRaft), a MongoDB wire server and,
on request, Keycloak; the code is in the ``stack`` package beside this file.

Standard library only: this runs before the project's virtualenv exists.

    python deploy/local/devstack.py start    # start what is missing, reuse what answers
    python deploy/local/devstack.py start --keycloak  # and Keycloak with keycloak/*-realm.json
    python deploy/local/devstack.py status
    eval "$(python deploy/local/devstack.py env)"  # export KAFKA_BOOTSTRAP_SERVERS, MONGODB_URL
    python deploy/local/devstack.py stop     # stops only what `start` started
"""

import sys

from stack.cli import main

if __name__ == "__main__":
    sys.exit(main())
