"""The handlers: one thin module per entry point, each over the incident log.

intake (alerts topic), specialist (tasks topic), synthesize (findings topic) with after_report (the steps that
follow a published report), sweep (Cloud Scheduler), execute (actions topic) and web (the web view). The
Cloud Functions targets that call them are in functions/main.py; what they share is built by the composition root,
functions/runtime.py.
"""
