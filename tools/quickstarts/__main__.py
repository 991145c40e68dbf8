"""``python -m tools.quickstarts``: the command is ``tools/quickstarts/command.py``."""

import signal
import sys

from tools.quickstarts.command import main, stop_on_sigterm

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("quickstarts: interrupted; the emulator it started is stopped", file=sys.stderr)
        sys.exit(130)
