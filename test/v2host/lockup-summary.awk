# lockup-summary.awk CONSOLE_LOG: one line per CPU of a guest kernel's
# lockup report (the "CPU: N PID: P Comm: C" blocks that the soft lockup
# watchdog and its all-CPU backtrace print): where the CPU was (kernel RIP)
# and the reliable frames of its stack, innermost first. CI shows only the
# tail of its output, where a whole report does not fit.
function flush() {
	if (who != "") print who (rip != "" ? " at " rip : "") (frames != "" ? ": " frames : "")
	who = rip = frames = ""; n = 0
}
{ sub(/^\[ *[0-9.]+\] /, "") }
/soft lockup - CPU#/ { print "lockup:", $0 }
/^CPU: [0-9]+ PID: [0-9]+ Comm: / { flush(); who = "cpu " $2 " pid " $4 " " $6 }
who != "" && /^RIP: 0010:/ { rip = substr($2, 6) }
who != "" && /^ [A-Za-z_][A-Za-z0-9_.]*\+0x/ && n < 14 {
	f = $1; sub(/\+0x.*/, "", f)
	frames = frames (n++ ? " < " : "") f
}
/^Kernel panic/ { flush(); print }
END { flush() }
