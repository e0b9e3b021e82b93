"""Many stills and clips at once: on this machine with one loaded model, or on a Ray cluster.

:mod:`~livebg.batch.inputs` expands the inputs into tasks, :mod:`~livebg.batch.manifest` remembers
what is done, :mod:`~livebg.batch.runner` runs the tasks here and :mod:`~livebg.batch.ray_runner` on Ray
workers, :mod:`~livebg.batch.chunks` splits one long clip into chunks and joins them, and
:func:`livebg.batch.job.process_batch` ties them together for ``livebg video`` and :func:`livebg.process`.
"""
