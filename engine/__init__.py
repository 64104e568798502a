"""Lianxin's BPMN runtime on SpiffWorkflow.

Import rule: `engine` imports neither `services` nor `web`. It knows nothing of Flask or HTTP.
Everything outside reaches it through `engine.runtime.Runtime` and the ports in `engine.ports`.
"""
