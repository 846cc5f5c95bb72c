package socket

import (
	"slices"
	"syscall"
	"time"
)

// EpollEvent is struct epoll_event: the events and the user's data (what
// packetdrill writes as fd=N or ptr=N).
type EpollEvent struct {
	Events uint32
	Data   uint64
}

// PollFd is struct pollfd.
type PollFd struct {
	Fd      int
	Events  int16
	Revents int16
}

// epoll is an epoll instance: its registrations and its ready list, in
// the order Linux keeps it.
type epoll struct {
	items map[int]*epitem
	ready []*epitem
}

// epitem is one registration (struct epitem).
type epitem struct {
	ep     *epoll
	fd     int
	f      *file
	events uint32
	data   uint64
	onList bool
}

// wake is ep_poll_callback: a wake-up of the watched file puts the item on
// the ready list unless ONESHOT disabled it or the wake-up's key shares no
// event with it (state changes carry no key and wake every item).
func (it *epitem) wake(kinds int) {
	if it.events&^epPrivateBits == 0 {
		return
	}
	if kinds&wakeAll == 0 {
		var key uint32
		if kinds&wakeIn != 0 {
			key |= EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND
		}
		if kinds&wakeOut != 0 {
			key |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
		}
		if kinds&wakeErr != 0 {
			key |= EPOLLERR
		}
		if key&it.events == 0 {
			return
		}
	}
	it.ep.push(it)
}

func (ep *epoll) push(it *epitem) {
	if !it.onList {
		it.onList = true
		ep.ready = append(ep.ready, it)
	}
}

func (ep *epoll) unlist(it *epitem) {
	if it.onList {
		it.onList = false
		ep.ready = slices.DeleteFunc(ep.ready, func(x *epitem) bool { return x == it })
	}
}

// poll is ep_item_poll: the file's mask, filtered by the item's events.
func (t *Table) itemPoll(it *epitem, depth int) uint32 {
	return t.pollFile(it.f, depth) & it.events
}

// pollFile is vfs_poll.
func (t *Table) pollFile(f *file, depth int) uint32 {
	switch {
	case f.sock != nil:
		return f.sock.pollMask()
	case f.ep != nil:
		if depth < 5 && t.epHasEvents(f.ep, depth+1) {
			return POLLIN | POLLRDNORM
		}
		return 0
	}
	return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM // the standard streams
}

func (t *Table) epHasEvents(ep *epoll, depth int) bool {
	for _, it := range ep.ready {
		if t.itemPoll(it, depth) != 0 {
			return true
		}
	}
	return false
}

// detach removes a closing file's epoll registrations, and an epoll
// instance's registrations from the files it watched.
func (t *Table) detach(f *file) {
	for _, it := range f.items {
		delete(it.ep.items, it.fd)
		it.ep.unlist(it)
	}
	f.items = nil
	if f.ep != nil {
		for _, it := range f.ep.items {
			it.f.items = slices.DeleteFunc(it.f.items, func(x *epitem) bool { return x == it })
		}
		f.ep.items, f.ep.ready = nil, nil
	}
}

// EpollCreate is epoll_create(2).
func (t *Table) EpollCreate(size int) (int, syscall.Errno) {
	if size <= 0 {
		return fail(syscall.EINVAL)
	}
	return t.EpollCreate1(0)
}

// EpollCreate1 is epoll_create1(2).
func (t *Table) EpollCreate1(flags int) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	if flags&^EPOLL_CLOEXEC != 0 {
		return fail(syscall.EINVAL)
	}
	f := &file{cloexec: flags&EPOLL_CLOEXEC != 0, ep: &epoll{items: map[int]*epitem{}}}
	return t.alloc(f)
}

// EpollCtl is epoll_ctl(2). ev may be nil for EPOLL_CTL_DEL.
func (t *Table) EpollCtl(epfd, op, fd int, ev *EpollEvent) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	hasEvent := op != EPOLL_CTL_DEL
	if hasEvent && ev == nil {
		return fail(syscall.EFAULT)
	}
	ef, e := t.getFile(epfd)
	if e != 0 {
		return fail(e)
	}
	tf, e := t.getFile(fd)
	if e != 0 {
		return fail(e)
	}
	if tf.sock == nil && tf.ep == nil {
		return fail(syscall.EPERM) // the standard streams: regular files here
	}
	if ef == tf || ef.ep == nil {
		return fail(syscall.EINVAL)
	}
	var events uint32
	if hasEvent {
		events = ev.Events
		if events&EPOLLEXCLUSIVE != 0 {
			const ok = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
			if op == EPOLL_CTL_MOD || op == EPOLL_CTL_ADD && (tf.ep != nil || events&^ok != 0) {
				return fail(syscall.EINVAL)
			}
		}
	}
	ep := ef.ep
	it := ep.items[fd]
	switch op {
	case EPOLL_CTL_ADD:
		if it != nil {
			return fail(syscall.EEXIST)
		}
		if tf.ep != nil && t.epReaches(tf.ep, ep, 0) {
			return fail(syscall.ELOOP)
		}
		it = &epitem{ep: ep, fd: fd, f: tf, events: events | EPOLLERR | EPOLLHUP, data: ev.Data}
		ep.items[fd] = it
		tf.items = append(tf.items, it)
		if t.itemPoll(it, 0) != 0 {
			ep.push(it)
		}
	case EPOLL_CTL_DEL:
		if it == nil {
			return fail(syscall.ENOENT)
		}
		delete(ep.items, fd)
		ep.unlist(it)
		tf.items = slices.DeleteFunc(tf.items, func(x *epitem) bool { return x == it })
	case EPOLL_CTL_MOD:
		if it == nil {
			return fail(syscall.ENOENT)
		}
		if it.events&EPOLLEXCLUSIVE != 0 {
			return fail(syscall.EINVAL)
		}
		it.events, it.data = events|EPOLLERR|EPOLLHUP, ev.Data
		if t.itemPoll(it, 0) != 0 {
			ep.push(it)
		}
	default:
		return fail(syscall.EINVAL)
	}
	return 0, 0
}

// epReaches reports whether epoll a watches b, directly or through nested
// instances (adding b to... would make a loop).
func (t *Table) epReaches(a, b *epoll, depth int) bool {
	if a == b {
		return true
	}
	if depth > 5 {
		return true
	}
	for _, it := range a.items {
		if it.f.ep != nil && t.epReaches(it.f.ep, b, depth+1) {
			return true
		}
	}
	return false
}

// EpollWait is epoll_wait(2); timeoutMs < 0 waits without limit. The
// Call's Events are the events returned.
func (t *Table) EpollWait(epfd, maxEvents, timeoutMs int) *Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	if maxEvents <= 0 || maxEvents > epMaxEvents {
		return t.doneCall("epoll_wait", -1, syscall.EINVAL)
	}
	f, e := t.getFile(epfd)
	if e != 0 {
		return t.doneCall("epoll_wait", -1, e)
	}
	if f.ep == nil {
		return t.doneCall("epoll_wait", -1, syscall.EINVAL)
	}
	ep := f.ep
	return t.start("epoll_wait", msTimeout(timeoutMs), func(c *Call, timedOut bool) (bool, int, syscall.Errno) {
		if ep.items == nil {
			return true, -1, syscall.EBADF // closed while waiting
		}
		evs := t.sendEvents(ep, maxEvents)
		if len(evs) > 0 || timeoutMs == 0 || timedOut {
			c.Events = evs
			return true, len(evs), 0
		}
		return false, 0, 0
	})
}

func msTimeout(ms int) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// sendEvents is ep_send_events: each ready item is polled; those with
// events are reported, level-triggered ones go back on the list,
// edge-triggered ones leave it, one-shot ones are disabled.
func (t *Table) sendEvents(ep *epoll, max int) []EpollEvent {
	list := ep.ready
	ep.ready = nil
	var out []EpollEvent
	var relist []*epitem
	i := 0
	for ; i < len(list) && len(out) < max; i++ {
		it := list[i]
		it.onList = false
		rev := t.itemPoll(it, 0)
		if rev == 0 {
			continue
		}
		out = append(out, EpollEvent{Events: rev, Data: it.data})
		switch {
		case it.events&EPOLLONESHOT != 0:
			it.events &= epPrivateBits
		case it.events&EPOLLET == 0:
			it.onList = true
			relist = append(relist, it)
		}
	}
	ep.ready = append(append(list[i:len(list):len(list)], ep.ready...), relist...)
	return out
}

// Poll is poll(2); timeoutMs < 0 waits without limit. The revents are
// written into fds.
func (t *Table) Poll(fds []PollFd, timeoutMs int) *Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	if len(fds) > t.Limit {
		return t.doneCall("poll", -1, syscall.EINVAL)
	}
	return t.start("poll", msTimeout(timeoutMs), func(c *Call, timedOut bool) (bool, int, syscall.Errno) {
		n := 0
		for i := range fds {
			p := &fds[i]
			p.Revents = 0
			if p.Fd < 0 {
				continue
			}
			f := t.files[p.Fd]
			if f == nil {
				p.Revents = POLLNVAL
			} else {
				p.Revents = int16(t.pollFile(f, 0) & (uint32(uint16(p.Events)) | POLLERR | POLLHUP))
			}
			if p.Revents != 0 {
				n++
			}
		}
		if n > 0 || timeoutMs == 0 || timedOut {
			return true, n, 0
		}
		return false, 0, 0
	})
}
