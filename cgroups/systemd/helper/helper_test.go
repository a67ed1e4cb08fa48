package helper

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/husk-runtime/husk/cgroups/systemd"
)

// The test binary is its own helper: with helperEnv set it serves a fake
// systemd that records what it was asked on stderr.
const helperEnv = "HUSK_HELPER_TEST"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "serve":
		err := Serve(os.Stdin, os.Stdout, func() (systemd.Bus, error) { return &recorder{}, nil })
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "nobus":
		Serve(os.Stdin, os.Stdout, func() (systemd.Bus, error) { return nil, errors.New("no systemd answers on D-Bus: tried it all") })
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// recorder answers every call; "taken.scope" exists already, and it
// reports the properties it got back through the error of "echo.scope".
type recorder struct{}

func (*recorder) Version() int { return 252 }
func (*recorder) StartTransientUnit(name string, props []systemd.Property) error {
	switch name {
	case "taken.scope":
		return fmt.Errorf("%w: org.freedesktop.systemd1.UnitExists", systemd.ErrUnitExists)
	case "echo.scope":
		return fmt.Errorf("%#v", props)
	}
	return nil
}
func (*recorder) SetUnitProperties(string, []systemd.Property) error { return nil }
func (*recorder) StopUnit(name string) error {
	if name == "bad.scope" {
		return errors.New("stop failed")
	}
	return nil
}
func (*recorder) ResetFailedUnit(string) error { return nil }
func (*recorder) Close() error                 { return nil }

func TestClientServer(t *testing.T) {
	t.Setenv(helperEnv, "serve")
	c, err := Start(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != 252 {
		t.Errorf("version %d", c.Version())
	}
	props := []systemd.Property{{Name: "PIDs", Value: []uint32{7}}, {Name: "DeviceAllow", Value: []systemd.DeviceAllow{{Path: "char-pts", Perms: "rwm"}}}}
	if err := c.StartTransientUnit("ok.scope", props); err != nil {
		t.Errorf("start: %v", err)
	}
	err = c.StartTransientUnit("echo.scope", props)
	if want := fmt.Sprintf("%#v", props); err == nil || err.Error() != want {
		t.Errorf("properties arrived as %v, want %s", err, want)
	}
	if err := c.StartTransientUnit("taken.scope", nil); !errors.Is(err, systemd.ErrUnitExists) {
		t.Errorf("existing unit: %v", err)
	}
	if err := c.StopUnit("bad.scope"); err == nil || err.Error() != "stop failed" {
		t.Errorf("stop: %v", err)
	}
	if err := c.SetUnitProperties("ok.scope", props); err != nil {
		t.Errorf("set: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestClientNoSystemd(t *testing.T) {
	t.Setenv(helperEnv, "nobus")
	_, err := Start(os.Args[0])
	if err == nil || !strings.Contains(err.Error(), "no systemd answers on D-Bus") {
		t.Errorf("Start: %v", err)
	}
	if _, err := Start("/nonexistent/husk-systemd"); err == nil || !strings.Contains(err.Error(), "/nonexistent/husk-systemd") {
		t.Errorf("missing helper: %v", err)
	}
}

func TestFind(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Find()
	if err == nil || !strings.Contains(err.Error(), Name) {
		t.Errorf("Find without a helper: %v", err)
	}
}
