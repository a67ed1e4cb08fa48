package shim

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	eventsapi "github.com/containerd/containerd/api/services/ttrpc/events/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/ttrpc"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Topics of the task events containerd expects from a shim.
const (
	topicCreate      = "/tasks/create"
	topicStart       = "/tasks/start"
	topicExit        = "/tasks/exit"
	topicDelete      = "/tasks/delete"
	topicExecAdded   = "/tasks/exec-added"
	topicExecStarted = "/tasks/exec-started"
	topicOOM         = "/tasks/oom"
	topicPaused      = "/tasks/paused"
	topicResumed     = "/tasks/resumed"
)

// How often an event is tried before it is dropped, and the pause before
// each retry (grows by itself each time): containerd may be restarting.
const (
	publishAttempts = 6
	publishBackoff  = time.Second
)

// publisher forwards events to containerd's ttrpc Events service
// (TTRPC_ADDRESS) in the order they were published: one goroutine sends
// them, so a caller never waits for containerd, and a retry never lets a
// later event overtake an earlier one (/tasks/exit before /tasks/delete).
type publisher struct {
	address string
	ns      string
	log     *logger

	mu     sync.Mutex
	queue  chan *types.Envelope
	closed bool
	done   chan struct{}

	conn   *ttrpc.Client
	client eventsapi.TTRPCEventsService
}

func newPublisher(address, ns string, log *logger) *publisher {
	p := &publisher{
		address: strings.TrimPrefix(address, "unix://"),
		ns:      ns,
		log:     log,
		queue:   make(chan *types.Envelope, 256),
		done:    make(chan struct{}),
	}
	go p.run()
	return p
}

// publish queues an event; after close it is dropped.
func (p *publisher) publish(topic string, ev proto.Message) {
	a, err := typeurl.MarshalAnyToProto(ev)
	if err != nil {
		p.log.Errorf("encode event %s: %v", topic, err)
		return
	}
	env := &types.Envelope{Timestamp: timestamppb.Now(), Namespace: p.ns, Topic: topic, Event: a}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.queue <- env
}

func (p *publisher) run() {
	defer close(p.done)
	for env := range p.queue {
		p.forward(env)
	}
	if p.conn != nil {
		p.conn.Close()
	}
}

func (p *publisher) forward(env *types.Envelope) {
	var err error
	for attempt := 1; attempt <= publishAttempts; attempt++ {
		if err = p.send(env); err == nil {
			return
		}
		// A broken connection (containerd restarted) is redialled.
		if p.conn != nil {
			p.conn.Close()
			p.conn, p.client = nil, nil
		}
		if attempt < publishAttempts {
			time.Sleep(time.Duration(attempt) * publishBackoff)
		}
	}
	p.log.Errorf("drop event %s after %d attempts: %v", env.Topic, publishAttempts, err)
}

func (p *publisher) send(env *types.Envelope) error {
	if p.client == nil {
		conn, err := net.DialTimeout("unix", p.address, 5*time.Second)
		if err != nil {
			return err
		}
		p.conn = ttrpc.NewClient(conn)
		p.client = eventsapi.NewTTRPCEventsClient(p.conn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := p.client.Forward(ctx, &eventsapi.ForwardRequest{Envelope: env})
	return err
}

// close sends what is queued, waiting at most timeout.
func (p *publisher) close(timeout time.Duration) {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
	p.mu.Unlock()
	select {
	case <-p.done:
	case <-time.After(timeout):
	}
}
