"""A TGI-compatible HTTP server for CPU machines, serving the provisioned models.

Speaks Text Generation Inference's API (``/``, ``/generate``, ``/generate_stream``, ``/info``,
``/health``, ``/v1/chat/completions``, ``/v1/models``) over one in-process :class:`Engine`, so the
`tgi` backend runs end to end without a GPU and users can run the production topology locally.
Responses follow TGI's own OpenAPI description (``../shared/reference/tgi-openapi.json``; the tests
validate every route against it). Differences from TGI: one generation at a time (no continuous
batching), ``best_of`` 1, no grammars or tools, ``/v1/models`` additionally lists the model and its
adapters under ``data`` as OpenAI clients expect.

``adapter_id`` (native API) or ``model`` (Messages API) selects a LoRA adapter loaded with
``--lora-adapters name=path``; an unknown ``adapter_id`` is a validation error, while an unknown
``model`` means the base model, since OpenAI clients always send some model name.

Like TGI's router it can require ``Authorization: Bearer <api key>``, refuses bodies over a payload
limit (413), takes a concurrency slot before tokenizing (429 when full) and bounds each generation
by a request timeout.

Layout: ``schemas`` (requests, response shapes), ``server`` (validation and generation over one
engine), ``middleware`` (API key, payload limit), ``defaults`` (the limits), ``routes`` (the FastAPI
app), ``startup`` (binding, loading, running).
"""
