// Package helper carries the systemd driver's Bus between the husk CLI
// and husk-systemd, a small binary that holds the D-Bus connection: husk
// itself links no D-Bus library (their package initialisation would cost
// every husk command, cgroupfs or not). husk starts the helper once per
// command that needs systemd, when the container's cgroup is first
// touched (so the connection is made while husk-init starts), and talks
// to it in JSON lines over its stdin and stdout.
package helper

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/husk-runtime/husk/cgroups/systemd"
)

// Name is the helper's file name, looked up beside the running husk
// binary, then on PATH.
const Name = "husk-systemd"

// request is one call: op is a Bus method.
type request struct {
	Op    string             `json:"op"`
	Unit  string             `json:"unit,omitempty"`
	Props []systemd.Property `json:"props,omitempty"`
}

// response answers the connection (Version) and each request.
type response struct {
	Error   string `json:"error,omitempty"`
	Exists  bool   `json:"exists,omitempty"`
	Version int    `json:"version,omitempty"`
}

const (
	opStart       = "start"
	opSet         = "set"
	opStop        = "stop"
	opResetFailed = "reset-failed"
)

// Find returns the helper's path: beside the husk binary (after
// symlinks), else on PATH.
func Find() (string, error) {
	var tried []string
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			p := filepath.Join(filepath.Dir(real), Name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
		}
	}
	p, err := exec.LookPath(Name)
	if err != nil {
		tried = append(tried, "PATH")
		return "", fmt.Errorf("%s (husk's D-Bus client for systemd) not found: looked at %v", Name, tried)
	}
	return p, nil
}

// Client is a systemd.Bus served by a husk-systemd process.
type Client struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	version int
}

// Connect starts the helper found by Find and waits for its connection
// to systemd.
func Connect() (systemd.Bus, error) {
	path, err := Find()
	if err != nil {
		return nil, err
	}
	return Start(path)
}

// Start runs the helper at path and waits for its connection to systemd.
func Start(path string) (*Client, error) {
	cmd := exec.Command(path)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	c := &Client{cmd: cmd, in: in, out: bufio.NewReader(out)}
	hello, err := c.read()
	if err == nil && hello.Error != "" {
		err = errors.New(hello.Error)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.version = hello.Version
	return c, nil
}

func (c *Client) read() (response, error) {
	var r response
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return r, fmt.Errorf("%s: no answer: %w", Name, err)
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("%s: bad answer %q: %w", Name, line, err)
	}
	return r, nil
}

func (c *Client) call(req request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	r, err := c.read()
	switch {
	case err != nil:
		return err
	case r.Exists:
		return fmt.Errorf("%w: %s", systemd.ErrUnitExists, r.Error)
	case r.Error != "":
		return errors.New(r.Error)
	}
	return nil
}

// Version is systemd's version number.
func (c *Client) Version() int { return c.version }

// StartTransientUnit implements systemd.Bus.
func (c *Client) StartTransientUnit(name string, props []systemd.Property) error {
	return c.call(request{Op: opStart, Unit: name, Props: props})
}

// SetUnitProperties implements systemd.Bus.
func (c *Client) SetUnitProperties(name string, props []systemd.Property) error {
	return c.call(request{Op: opSet, Unit: name, Props: props})
}

// StopUnit implements systemd.Bus.
func (c *Client) StopUnit(name string) error { return c.call(request{Op: opStop, Unit: name}) }

// ResetFailedUnit implements systemd.Bus.
func (c *Client) ResetFailedUnit(name string) error {
	return c.call(request{Op: opResetFailed, Unit: name})
}

// Close ends the helper (it exits when its stdin closes) and reaps it.
func (c *Client) Close() error {
	c.in.Close()
	return c.cmd.Wait()
}

// Serve is the helper's side: it connects with connect, reports the
// outcome, then answers requests from r on w until r ends. A failed
// connection is reported to the client, not returned: husk says it.
func Serve(r io.Reader, w io.Writer, connect systemd.Connector) error {
	enc := json.NewEncoder(w)
	bus, err := connect()
	if err != nil {
		return enc.Encode(response{Error: err.Error()})
	}
	defer bus.Close()
	if err := enc.Encode(response{Version: bus.Version()}); err != nil {
		return err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var req request
		var err error
		if err = json.Unmarshal(sc.Bytes(), &req); err == nil {
			err = dispatch(bus, req)
		}
		resp := response{}
		if err != nil {
			resp.Error, resp.Exists = err.Error(), errors.Is(err, systemd.ErrUnitExists)
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
	}
	return sc.Err()
}

func dispatch(bus systemd.Bus, req request) error {
	switch req.Op {
	case opStart:
		return bus.StartTransientUnit(req.Unit, req.Props)
	case opSet:
		return bus.SetUnitProperties(req.Unit, req.Props)
	case opStop:
		return bus.StopUnit(req.Unit)
	case opResetFailed:
		return bus.ResetFailedUnit(req.Unit)
	}
	return fmt.Errorf("unknown request %q", req.Op)
}
