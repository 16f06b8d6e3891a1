#!/usr/bin/env python3
"""Runs a command in a real pseudo-terminal, the way a user at a terminal would, and reports what
the terminal showed.  Used by spec/cli_spec.lua (the coze command's output, progress bar, Ctrl-C).

  pty_run.py [--when TEXT (--send TEXT | --shell CMD)]... [--interrupt-after TEXT] [--timeout S] -- CMD ARGS...

--when/--send pairs: once TEXT has appeared, type SEND (a "\\n" in it is Enter).
--when/--shell pairs: once TEXT has appeared, run CMD with sh (PTY_OUTPUT holds the transcript so far),
the other party a user would be (approving a device code in a browser).
--interrupt-after TEXT: once TEXT has appeared, press Ctrl-C (the terminal turns it into SIGINT).
Prints the transcript, then a last line "exit N" (N = 128 + signal when killed by one)."""
import os, pty, select, subprocess, sys, time

def main(argv):
    sends, interrupt, timeout = [], None, 30.0
    i = 0
    while argv[i] != "--":
        if argv[i] == "--when":
            what = argv[i + 3].encode()
            if argv[i + 2] == "--send":
                what = what.replace(b"\\n", b"\n")
            sends.append([argv[i + 1].encode(), what, argv[i + 2] == "--shell"])
            i += 4
        elif argv[i] == "--interrupt-after":
            interrupt = argv[i + 1].encode()
            i += 2
        elif argv[i] == "--timeout":
            timeout = float(argv[i + 1])
            i += 2
        else:
            sys.exit("pty_run.py: unknown option " + argv[i])
    cmd = argv[i + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        for s in sends:
            if s[0] is not None and s[0] in out:
                if s[2]:
                    env = dict(os.environ, PTY_OUTPUT=out.decode("utf-8", "replace"))
                    subprocess.run(["sh", "-c", s[1].decode()], env=env, stdout=subprocess.DEVNULL)
                else:
                    os.write(fd, s[1])
                s[0] = None
        if interrupt is not None and interrupt in out:
            os.write(fd, b"\x03")  # the line discipline sends SIGINT to the foreground group
            interrupt = None
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        code = 128 - code
    sys.stdout.buffer.write(out)
    sys.stdout.write("\nexit %d\n" % code)

main(sys.argv[1:])
