package initproc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config describes one husk-init process.
type Config struct {
	Plan *Plan
	// Files become fds 3, 4, ... in husk-init, in order. Fds the container
	// keeps (--preserve-fds) come first; the plan refers to the others by
	// number (3 + index).
	Files                 []*os.File
	Stdin, Stdout, Stderr *os.File
	// Clone, if set, creates namespaces in the clone(2) that starts
	// husk-init (and writes the id maps of a new user namespace, as root
	// of which husk-init then runs): no fork of its own is needed.
	Clone *syscall.SysProcAttr
}

// Init is a running husk-init and the socket to talk to it.
type Init struct {
	Proc *os.Process
	plan *Plan
	// sock is non-blocking and managed by Go's poller (deadlines cancel a
	// Recv); it is used with raw sendmsg/recvmsg: the net package would
	// cost every husk command its initialisation.
	sock *os.File
	raw  syscall.RawConn
}

// Msg is one message from husk-init.
type Msg struct {
	Type uint32
	Op   int
	Err  syscall.Errno
	Val  int64
	// Time is CLOCK_MONOTONIC in husk-init when it sent the message.
	Time time.Duration
	Text string
	File *os.File // an fd passed with SCM_RIGHTS
}

var exe struct {
	once sync.Once
	file *os.File
	err  error
}

// executable returns a sealed memfd holding husk-init. It is made once per
// process: the seals make sharing it between spawns safe.
func executable() (*os.File, error) {
	exe.once.Do(func() {
		exe.file, exe.err = sealedMemfd("husk-init", initBinary, true)
	})
	return exe.file, exe.err
}

func sealedMemfd(name string, data []byte, executable bool) (*os.File, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	if executable {
		flags |= unix.MFD_EXEC
	}
	fd, err := unix.MemfdCreate(name, flags)
	if errors.Is(err, unix.EINVAL) && executable {
		// Kernels before 6.3 know no MFD_EXEC; their memfds are executable.
		fd, err = unix.MemfdCreate(name, flags&^unix.MFD_EXEC)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("write memfd %s: %w", name, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal memfd %s: %w", name, err)
	}
	return f, nil
}

// Start runs husk-init on the plan. The caller must Close the Init.
func Start(cfg Config) (*Init, error) {
	exeFile, err := executable()
	if err != nil {
		return nil, err
	}
	data, err := cfg.Plan.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode init plan: %w", err)
	}
	planFile, err := sealedMemfd("husk-plan", data, false)
	if err != nil {
		return nil, err
	}
	defer planFile.Close()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	child := os.NewFile(uintptr(fds[1]), "husk-init-sync")
	defer child.Close()
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("sync socket: %w", err)
	}
	sock := os.NewFile(uintptr(fds[0]), "husk-sync")
	raw, err := sock.SyscallConn()
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("sync socket: %w", err)
	}

	stdin := cfg.Stdin
	if stdin == nil {
		// An empty pipe reads as /dev/null does, and is no inode of the
		// host's that root in the container could chmod through fd 0.
		r, w, err := os.Pipe()
		if err != nil {
			sock.Close()
			return nil, fmt.Errorf("stdin: %w", err)
		}
		w.Close()
		defer r.Close()
		stdin = r
	}
	syncFD := 3 + len(cfg.Files)
	files := make([]*os.File, 0, 3+len(cfg.Files)+3)
	files = append(files, stdin, orNull(cfg.Stdout), orNull(cfg.Stderr))
	files = append(files, cfg.Files...)
	files = append(files, child, planFile, exeFile)
	proc, err := os.StartProcess(fmt.Sprintf("/proc/self/fd/%d", syncFD+2),
		[]string{"husk-init", strconv.Itoa(syncFD), strconv.Itoa(syncFD + 1), strconv.Itoa(syncFD + 2)},
		&os.ProcAttr{Files: files, Env: []string{}, Sys: cfg.Clone})
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("start husk-init: %w", err)
	}
	return &Init{Proc: proc, plan: cfg.Plan, sock: sock, raw: raw}, nil
}

var devNull struct {
	once sync.Once
	f    *os.File
}

// orNull gives husk-init /dev/null for a missing output stream, as os/exec
// does.
func orNull(f *os.File) *os.File {
	if f != nil {
		return f
	}
	devNull.once.Do(func() {
		devNull.f, _ = os.OpenFile(os.DevNull, os.O_RDWR, 0)
	})
	return devNull.f
}

// Recv waits for the next message. ctx cancels the wait.
func (in *Init) Recv(ctx context.Context) (Msg, error) {
	stop := context.AfterFunc(ctx, func() { in.sock.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	buf := make([]byte, msgSize+4096)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var rerr error
	err := in.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return Msg{}, ctx.Err()
		}
		return Msg{}, fmt.Errorf("read from husk-init: %w", err)
	}
	if n == 0 {
		return Msg{}, errClosed
	}
	if n < msgSize {
		return Msg{}, fmt.Errorf("short message from husk-init (%d bytes)", n)
	}
	le := binary.LittleEndian
	m := Msg{
		Type: le.Uint32(buf[0:]),
		Op:   int(int32(le.Uint32(buf[4:]))),
		Err:  syscall.Errno(int32(le.Uint32(buf[8:]))),
		Val:  int64(le.Uint64(buf[16:])),
		Time: time.Duration(le.Uint64(buf[24:])),
	}
	if l := int(le.Uint32(buf[12:])); l > 0 && msgSize+l <= n {
		m.Text = string(buf[msgSize : msgSize+l])
	}
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(cmsgs) == 1 {
			if fds, err := unix.ParseUnixRights(&cmsgs[0]); err == nil && len(fds) == 1 {
				m.File = os.NewFile(uintptr(fds[0]), "husk-init-fd")
			}
		}
	}
	return m, nil
}

var errClosed = errors.New("husk-init exited during setup")

// Send sends a message (MsgAck or MsgDone) with an optional payload.
func (in *Init) Send(typ uint32, payload []byte) error {
	buf := make([]byte, msgSize, msgSize+len(payload))
	binary.LittleEndian.PutUint32(buf[0:], typ)
	binary.LittleEndian.PutUint32(buf[4:], ^uint32(0))
	binary.LittleEndian.PutUint32(buf[12:], uint32(len(payload)))
	buf = append(buf, payload...)
	var werr error
	err := in.raw.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), buf)
		return werr != unix.EAGAIN
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("write to husk-init: %w", err)
	}
	return nil
}

// Error turns an MsgError into an error naming the op that failed.
func (in *Init) Error(m Msg) error {
	if m.Err != 0 {
		return &OpError{What: in.plan.Describe(m.Op), Text: m.Text, Err: m.Err}
	}
	return &OpError{What: in.plan.Describe(m.Op), Text: m.Text}
}

// OpError is a failure reported by husk-init.
type OpError struct {
	What string // the config element the op came from
	Text string // what husk-init was doing
	Err  error  // errno, if any
}

func (e *OpError) Error() string {
	if e.Err == nil {
		return e.What + ": " + e.Text
	}
	return e.What + ": " + e.Text + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }

// Close releases the socket; husk-init, if still in setup, then exits.
func (in *Init) Close() error {
	return in.sock.Close()
}
