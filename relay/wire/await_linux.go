package wire

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// An idle connection waits for its client's next bytes in one epoll set
// that the whole process shares, with no goroutine of its own: one
// goroutine waits for all of them (pollLoop), and a
// connection's reading goroutine starts when its socket becomes readable,
// or when its read deadline passes (a timer). A goroutine per idle agent,
// however shallow, costs 2 KiB of stack, and as much again of heap, since
// the garbage collector's goal counts stacks.
//
// The socket stays in Go's own poller too (reads, writes and deadlines
// work as they always do); Linux lets a socket be in several epoll sets.
// Closing the socket takes it out of this one.

// pollState is a frameConn's part in the shared epoll set.
type pollState struct {
	fd int

	mu         sync.Mutex
	registered bool        // in the epoll set
	closed     bool        // Close was called
	deadline   time.Time   // the read deadline, as last set
	woken      func(error) // not nil while waiting
	timer      *time.Timer // fires at the deadline while waiting
}

// poller is the shared epoll set, started by the first wait.
var poller struct {
	once  sync.Once
	epfd  int
	file  *os.File // epfd, in Go's poller
	err   error    // the set could not be made: connections wait on goroutines
	mu    sync.Mutex
	conns map[int32]*frameConn // registered sockets, by descriptor
}

// await calls woken on a goroutine of its own once the socket has
// something to read (bytes, its end or an error), once its read deadline
// passes (then with os.ErrDeadlineExceeded), or once it is closed.
func (f *frameConn) await(woken func(error)) {
	poller.once.Do(startPoller)
	if poller.err != nil {
		go func() { woken(f.raw.Read(hasInput)) }()
		return
	}
	p := &f.poll
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		go woken(net.ErrClosed)
		return
	}
	p.woken = woken
	f.armTimer()
	op := syscall.EPOLL_CTL_MOD
	if !p.registered {
		op = syscall.EPOLL_CTL_ADD
		p.registered = true
		poller.mu.Lock()
		poller.conns[int32(p.fd)] = f
		poller.mu.Unlock()
	}
	// One event, then the socket is out of the set until the next wait;
	// level-triggered, so bytes that came before this call wake it at once.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot, Fd: int32(p.fd)}
	err := syscall.EpollCtl(poller.epfd, op, p.fd, &ev)
	p.mu.Unlock()
	if err != nil {
		f.wake(err) // the read that follows reports what is wrong
	}
}

// epollOneShot is EPOLLONESHOT, which package syscall types as a negative
// int on some platforms.
const epollOneShot = 1 << 30

// wake ends a wait, if one is on: the connection's reading goroutine
// starts.
func (f *frameConn) wake(err error) {
	p := &f.poll
	p.mu.Lock()
	woken := p.woken
	p.woken = nil
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	if woken != nil {
		go woken(err)
	}
}

// armTimer has the wait end at the read deadline. Call it with f.poll.mu
// held.
func (f *frameConn) armTimer() {
	p := &f.poll
	if p.woken == nil || p.deadline.IsZero() {
		if p.timer != nil {
			p.timer.Stop()
		}
		return
	}
	d := time.Until(p.deadline)
	if p.timer == nil {
		p.timer = time.AfterFunc(d, f.expired)
		return
	}
	p.timer.Reset(d)
}

// expired ends a wait whose deadline has passed.
func (f *frameConn) expired() {
	p := &f.poll
	p.mu.Lock()
	if p.woken != nil && !p.deadline.IsZero() && time.Now().Before(p.deadline) {
		f.armTimer() // the deadline moved while the timer fired
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	f.wake(os.ErrDeadlineExceeded)
}

// SetReadDeadline sets the socket's read deadline, and moves the end of a
// wait to it: Close and Abort end a read that way.
func (f *frameConn) SetReadDeadline(t time.Time) error {
	err := f.Conn.SetReadDeadline(t) // first: a wait that ends now must find it set
	p := &f.poll
	p.mu.Lock()
	p.deadline = t
	f.armTimer()
	p.mu.Unlock()
	return err
}

// SetDeadline sets both deadlines.
func (f *frameConn) SetDeadline(t time.Time) error {
	if err := f.SetReadDeadline(t); err != nil {
		return err
	}
	return f.Conn.SetWriteDeadline(t)
}

// Close takes the socket out of the epoll set, ends a wait, and closes it.
func (f *frameConn) Close() error {
	p := &f.poll
	p.mu.Lock()
	p.closed = true
	if p.registered {
		p.registered = false
		poller.mu.Lock()
		if poller.conns[int32(p.fd)] == f {
			delete(poller.conns, int32(p.fd))
		}
		poller.mu.Unlock()
		_ = syscall.EpollCtl(poller.epfd, syscall.EPOLL_CTL_DEL, p.fd, nil)
	}
	p.mu.Unlock()
	f.wake(net.ErrClosed)
	return f.Conn.Close()
}

// startPoller makes the epoll set and starts its goroutine. The set's own
// descriptor is in Go's poller, so that goroutine waits as any socket's
// reader does, and wakes the connections on the goroutines of the
// scheduler it runs on, not from a thread blocked in epoll_wait.
func startPoller() {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err == nil {
		err = syscall.SetNonblock(epfd, true)
	}
	var rc syscall.RawConn
	if err == nil {
		poller.file = os.NewFile(uintptr(epfd), "epoll")
		rc, err = poller.file.SyscallConn()
	}
	if err != nil {
		poller.err = err
		return
	}
	poller.epfd = epfd
	poller.conns = map[int32]*frameConn{}
	go pollLoop(rc)
}

// pollLoop wakes the connections whose sockets became readable.
func pollLoop(rc syscall.RawConn) {
	events := make([]syscall.EpollEvent, 256)
	err := rc.Read(func(epfd uintptr) bool {
		for {
			n, err := syscall.EpollWait(int(epfd), events, 0)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				panic("wire: epoll_wait: " + err.Error()) // a bad epoll descriptor: cannot happen
			}
			if n == 0 {
				return false // nothing more: wait until the set is readable again
			}
			for _, ev := range events[:n] {
				poller.mu.Lock()
				f := poller.conns[ev.Fd]
				poller.mu.Unlock()
				if f != nil {
					f.wake(nil) // a stale event only starts a read that finds nothing and waits again
				}
			}
		}
	})
	panic("wire: epoll set: " + err.Error()) // it is never closed
}
