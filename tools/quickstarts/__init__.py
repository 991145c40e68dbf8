"""Microsoft's Azure Stack quickstart corpus against the emulator: ``command`` (``python -m tools.quickstarts -h``)
deploys every template, ``corpus`` reads and fills them, ``deploy`` deploys one, ``supplies`` makes what a team
supplies (``--supply``), ``rules`` sorts each failure."""
