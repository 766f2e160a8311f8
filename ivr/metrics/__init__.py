"""Operations: the Prometheus /metrics endpoint (docs/operations.md).

collector.py holds an application's metrics and the hook other parts register into (app[keys.METRICS]);
live.py reads the calls, queues, agents, FastAGI, AMI and the call writer; jobs.py counts the durable jobs in
the database; log_errors.py counts error log records; routes.py serves GET /metrics to loopback or a token.
"""
