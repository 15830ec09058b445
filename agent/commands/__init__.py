"""The ``fedharden`` commands: click code only, one module per command or group (``scan``,
``directives``, ``enroll``, ``run``, ``status``, ``feeds``), options shared between them in
``options``, and the files a user names (directives, waivers, tailoring, a baseline) read in
``inputs``.

A command parses its options once (``agent.target.Target`` for what it works on), calls the
agent's domain modules, prints what they return and exits with the status code of what it
found. Domain code raises exceptions carrying their exit code (agent.AgentError); agent.cli's
group catches them, once, for every command. No module imports agent.cli.
"""
