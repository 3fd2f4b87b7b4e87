import signal

from launcher.cli import main

# `./launchcommand.sh laps | head` ends quietly. Set here, where the process starts, not in main(): the
# tests call main() in their own process, where a default SIGPIPE would kill the whole run on any
# write to a closed socket.
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
raise SystemExit(main())
