"""``livebg serve``: a local web page and an HTTP API for removing and replacing backgrounds.

The web packages (FastAPI, uvicorn, python-multipart: the ``web`` extra) are imported only when the
server starts, never by ``livebg --help``. The modules, in the order a request meets them:

- ``config``: :class:`ServeConfig`, the server's limits, built by the CLI;
- ``app``: the FastAPI application (routes, token, security headers, error bodies);
- ``uploads``: a multipart body streamed to disk under a size limit;
- ``content``: what an upload really is, found by decoding it (never from its name);
- ``options``: form fields to :class:`~livebg.serve.options.JobOptions`;
- ``jobs``: the queue that runs jobs a few at a time, with time limits and retention;
- ``work``: what a job does with the model (``Matter.process``, as ``livebg video``);
- ``storage``: the private temporary folder, server-made ids, the disk cap;
- ``server``: loads the model, runs uvicorn, cleans up on Ctrl-C/SIGTERM.
"""
