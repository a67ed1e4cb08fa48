package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/ttrpc"

	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm/api"
)

// conn is a command's connection to a VM container's supervisor.
type conn struct {
	id     string
	st     *state
	client *ttrpc.Client
	agent  api.AgentService
}

var errNotRunning = errors.New("is not running (its VM has ended)")

// connect reaches the supervisor of container id.
func connect(g *global, id string) (*conn, error) {
	if err := specs.ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(g.root, id)
	st, err := readState(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s does not exist", id)
		}
		return nil, err
	}
	if !st.supervisorAlive() {
		return nil, fmt.Errorf("container %s %w", id, errNotRunning)
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.Dial("unix", filepath.Join(dir, socketFile))
	if err != nil {
		return nil, fmt.Errorf("container %s: its supervisor: %w", id, err)
	}
	client := ttrpc.NewClient(nc)
	return &conn{id: id, st: st, client: client, agent: api.NewAgentClient(client)}, nil
}

func (c *conn) close() { c.client.Close() }

// status is the container's status as the agent sees it.
func (c *conn) status() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.agent.State(ctx, containerReq(c.id))
	if err != nil {
		return "", fmt.Errorf("container %s: %w", c.id, err)
	}
	switch r.Status {
	case "creating", "created", "running", "paused", "stopped":
		return r.Status, nil
	}
	return "", fmt.Errorf("container %s: the agent reported status %q", c.id, r.Status)
}

func containerReq(id string) *api.ContainerRequest { return &api.ContainerRequest{ContainerId: id} }

func emptyReq() *api.Empty { return &api.Empty{} }

func updateReq(id string, resources []byte) *api.UpdateRequest {
	return &api.UpdateRequest{ContainerId: id, Resources: resources}
}
