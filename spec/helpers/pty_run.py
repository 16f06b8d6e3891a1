#!/usr/bin/env python3
"""Runs a command in a real pseudo-terminal, the way a user at a terminal would, and reports what
the terminal showed.  Used by spec/cli_spec.lua (the coze command's output, progress bar, Ctrl-C).

  pty_run.py [--when TEXT (--send TEXT | --shell CMD)]... [--interrupt-after TEXT] [--timeout S] -- CMD ARGS...

--when/--send: once TEXT has appeared, type SEND (a "\\n" in it is Enter).
--when/--shell: once TEXT has appeared, run CMD with sh (PTY_OUTPUT holds the transcript so far): the
  other party a user would be (approving a device code in a browser).
--interrupt-after TEXT: once TEXT has appeared, press Ctrl-C (the terminal turns it into SIGINT).
Each action comes 0.2 s after its text, as from a person. Prints the transcript, then a last line
"exit N" (N = 128 + signal when killed by one; the command is killed after --timeout, default 30 s)."""
import os, pty, select, subprocess, sys, time

REACTION_S = 0.2

def main(argv):
    triggers, timeout = [], 30.0
    i = 0
    while argv[i] != "--":
        if argv[i] == "--when" and argv[i + 2] in ("--send", "--shell"):
            what = argv[i + 3]
            if argv[i + 2] == "--send":
                what = what.replace("\\n", "\n")
            triggers.append({"text": argv[i + 1].encode(), "kind": argv[i + 2], "what": what})
            i += 4
        elif argv[i] == "--interrupt-after":
            triggers.append({"text": argv[i + 1].encode(), "kind": "--send", "what": "\x03"})
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
    while True:
        if time.time() >= deadline:
            os.kill(pid, 9)
            break
        r, _, _ = select.select([fd], [], [], 0.02)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        now = time.time()
        for t in triggers:
            if t.get("done"):
                continue
            if "seen" not in t:
                if t["text"] in out:
                    t["seen"] = now
                continue
            if now - t["seen"] < REACTION_S:
                continue
            t["done"] = True
            if t["kind"] == "--shell":
                env = dict(os.environ, PTY_OUTPUT=out.decode("utf-8", "replace"))
                subprocess.run(["sh", "-c", t["what"]], env=env, stdout=subprocess.DEVNULL)
            else:
                os.write(fd, t["what"].encode())
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        code = 128 - code
    sys.stdout.buffer.write(out)
    sys.stdout.write("\nexit %d\n" % code)

main(sys.argv[1:])
