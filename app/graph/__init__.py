"""Microsoft Graph wire format: everything the simulator reads or writes as Graph JSON.

Graph JSON is built and parsed here only; every other layer calls these modules. Pure Python
(standard library only), so the engine, the server, the scenario runner and the GUI can all use
it without pulling in anything heavy. The contract is docs/graph-contract.md.

- ``errors``: ``GraphError`` (status, OData code, message) and the OData error body (§1.3).
- ``requests``: frozen request models for recordResponse, playPrompt, cancelMediaProcessing and
  subscribeToTone, their strict parsers (any violation -> GraphError 400 naming the field and
  the rule) and ``to_body()`` giving back the canonical JSON (§1.2, §8, §9).
- ``results``: the ending -> status/code/subcode/message/completionReason table (§4).
- ``payloads``: builders for operation resources, resultInfo, commsNotifications envelopes,
  toneInfo and call notifications, ids and resource paths (§2, §3, §5, §8, §9).
"""
