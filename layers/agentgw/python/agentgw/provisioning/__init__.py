"""The provisioning workflow's step logic: one module per concern.

Each Step Functions state calls one Lambda function (functions/provisioning/app.py), and
each handler calls one function here. Every step is idempotent: resources are found by
names derived from the stack name (`names`) before anything is created, so re-running the
workflow converges on the same resources. Steps never return the OAuth client secret: it
goes straight to Secrets Manager and only its ARN travels through the state machine.
"""
