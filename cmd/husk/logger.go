package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// cliLogger writes husk's log as runc does: JSON lines (time RFC 3339,
// level, msg) with --log-format json, which containerd's shim reads to
// report the last error; text lines otherwise. Errors also go to stderr
// when the log is a file, so a person at a terminal sees them.
type cliLogger struct {
	mu     sync.Mutex
	w      io.Writer
	toFile bool
	json   bool
	debug  bool
}

var (
	loggerOnce sync.Once
	theLogger  *cliLogger
)

// logger returns the process's logger, built from the global flags the
// first time it is needed.
func logger() *cliLogger {
	loggerOnce.Do(func() {
		theLogger = &cliLogger{w: os.Stderr}
		flags := globalFlags()
		theLogger.json = flags["log-format"] == "json"
		theLogger.debug = flags["debug"] == "true"
		if path := flags["log"]; path != "" {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err == nil {
				theLogger.w, theLogger.toFile = f, true
			} else {
				fmt.Fprintf(os.Stderr, "husk: --log %s: %v\n", path, err)
			}
		}
	})
	return theLogger
}

// globalFlags reads the global flags from os.Args on its own: the logger
// is also needed for errors reported before any command runs.
func globalFlags() map[string]string {
	out := map[string]string{}
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			break // the command name: global flags end here
		}
		name := a[1:]
		if name[0] == '-' {
			name = name[1:]
		}
		val := ""
		if k, v, ok := cutEq(name); ok {
			name, val = k, v
		} else if name == "debug" || name == "systemd-cgroup" {
			val = "true"
		} else if i+1 < len(args) {
			i++
			val = args[i]
		}
		out[name] = val
	}
	return out
}

func cutEq(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (l *cliLogger) write(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if l.json {
		data, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		l.w.Write(append(data, '\n'))
	} else if l.toFile {
		fmt.Fprintf(l.w, "time=%q level=%s msg=%s\n", now, level, strconv.Quote(msg))
	} else {
		fmt.Fprintf(l.w, "husk: %s\n", msg)
	}
	if level == "error" && l.toFile {
		fmt.Fprintf(os.Stderr, "husk: %s\n", msg)
	}
}

func (l *cliLogger) Errorf(format string, args ...any) {
	l.write("error", fmt.Sprintf(format, args...))
}

func (l *cliLogger) Warnf(format string, args ...any) {
	l.write("warning", fmt.Sprintf(format, args...))
}

func (l *cliLogger) Debugf(format string, args ...any) {
	if l.debug {
		l.write("debug", fmt.Sprintf(format, args...))
	}
}
