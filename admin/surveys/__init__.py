"""Surveys in the console: the list (``listing``), the builder (``builder``), translations and
the preview (``translate``), each with its own router that the capability manifest lists in that
order. Waves are in ``admin.surveys.waves``; results, CSV and closing the loop in
``admin.surveys.results``."""
