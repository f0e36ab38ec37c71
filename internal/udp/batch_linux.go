//go:build linux

package udp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

var _ BatchConn = (*Socket)(nil)

// maxBatch caps the datagrams one ReadBatch or WriteBatch system call moves;
// a longer slice is moved in several. It is at most 64: see mmsg.unpinned.
const maxBatch = 64

// mmsg is one direction's scratch space for recvmmsg or sendmmsg, made once
// per socket so that a call allocates nothing: the headers, an iovec, an
// address and control messages (the local address, see srcTable; the
// segment size, see offload) per header, and the function RawConn.Read or
// Write runs (a closure, made once). mu makes calls in one direction take
// turns.
//
// Without offload a header is one datagram. A write with GSO makes a header
// of a run of datagrams to one address (segs of them, iovecs from iov on);
// a read with GRO may get several datagrams in a header, which gro splits.
type mmsg struct {
	mu    sync.Mutex
	hs    [maxBatch]unix.Mmsghdr
	iovs  [maxBatch]unix.Iovec
	names [maxBatch]unix.RawSockaddrInet6 // room for either family
	ctrl  [maxBatch]oob
	segs  [maxBatch]uint8 // writes: the datagrams each header carries
	n     int             // headers in this call
	done  int             // headers moved so far
	errno syscall.Errno   // the call's error, if any
	skip  int             // sendmmsg: headers refused
	sent  int             // sendmmsg: datagrams in the headers that went
	// unpinned has bit i set if sendmmsg refused header i's source (the
	// address is gone), and it was sent again without one.
	unpinned uint64
	// gsoRefused is why the system refused a header of several datagrams
	// as such (see gsoRefused), if it did: the call stopped there.
	gsoRefused syscall.Errno
	fn         func(fd uintptr) bool
	zones      map[uint32]string // reads: interface index to zone name
	gro        groState          // reads with GRO: what the last call brought
	groAsked   bool              // reads: UDP_GRO asked for (see groAfter)
}

// batcher is the Linux part of a Socket. Each direction's scratch space is
// made on its first use: a socket that never sends a batch (most send one
// datagram at a time) does not pay for it.
type batcher struct {
	rc             syscall.RawConn
	family         int // AF_INET or AF_INET6: what the socket is
	rdOnce, wrOnce sync.Once
	rd             atomic.Pointer[mmsg] // atomic for Close (see release)
	wr             *mmsg
	off            offload
}

// initBatch sets up the batcher. bound is the socket's address as the
// system reports it, before unmapping: an IPv4 address for an AF_INET
// socket, IPv6 (:: when dual-stack) for AF_INET6.
func (s *Socket) initBatch(bound netip.AddrPort) {
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return
	}
	b := &batcher{rc: rc, family: unix.AF_INET6}
	if bound.Addr().Is4() {
		b.family = unix.AF_INET
	}
	b.off.detect(rc)
	s.batch = b
}

func (b *batcher) reader() *mmsg {
	b.rdOnce.Do(func() {
		m := newMmsg()
		m.fn = m.recv
		b.rd.Store(m)
	})
	return b.rd.Load()
}

func (b *batcher) writer() *mmsg {
	b.wrOnce.Do(func() {
		b.wr = newMmsg()
		b.wr.fn = b.wr.send
	})
	return b.wr
}

// newMmsg points each header at its iovec and address once; a call fills
// in only the iovecs and the address lengths.
func newMmsg() *mmsg {
	m := &mmsg{}
	for i := range m.hs {
		h := &m.hs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Iov = &m.iovs[i]
		h.SetIovlen(1)
	}
	return m
}

// recv runs recvmmsg once the socket is readable: false asks RawConn.Read
// to wait for that (the socket is non-blocking).
func (m *mmsg) recv(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hs[0])), uintptr(m.n), 0, 0, 0)
		switch e {
		case 0:
			m.done = int(r)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		m.errno = e
		return true
	}
}

// send runs sendmmsg until every header has gone or been refused; false
// asks RawConn.Write to wait until the socket is writable.
func (m *mmsg) send(fd uintptr) bool {
	for m.done+m.skip < m.n {
		i := m.done + m.skip
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.hs[i])), uintptr(m.n-i), 0, 0, 0)
		switch e {
		case 0:
			for _, k := range m.segs[i : i+int(r)] {
				m.sent += int(k)
			}
			m.done += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			// sendmmsg fails only for the first header of the call.
			if m.pinned(i) && sourceGone(e) {
				// Its source is no longer ours: let the system pick one.
				m.unpin(i)
				m.unpinned |= 1 << i
				continue
			}
			if m.segs[i] > 1 && gsoRefused(e) {
				// WriteBatch sends the run again, one datagram a header.
				m.gsoRefused = e
				return true
			}
			// Skip it, as a failed WriteTo would be, and go on with the rest.
			if m.errno == 0 {
				m.errno = e
			}
			m.skip++
		}
	}
	return true
}

// ReadBatch reads the datagrams waiting, at least one, up to len(ms).
func (s *Socket) ReadBatch(ms []Message) (int, error) {
	m := s.batch.reader()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(ms) == 0 {
		return 0, nil
	}
	if s.batch.off.gro.Load() {
		return s.readGRO(m, ms)
	}
	m.n, m.done, m.errno = min(len(ms), maxBatch), 0, 0
	for i := range m.n {
		m.iovs[i] = iovec(ms[i].Buf)
	}
	if err := s.recv(m); err != nil {
		return 0, err
	}
	for i := range m.done {
		ms[i].N = int(m.hs[i].Len)
		ms[i].Addr, _ = s.received(m, i)
	}
	if m.done >= groAfter && !m.groAsked {
		m.groAsked = true
		s.batch.off.enableGRO(s.batch.rc)
	}
	return m.done, nil
}

// recv runs recvmmsg for the m.n headers whose iovecs are set.
func (s *Socket) recv(m *mmsg) error {
	m.done, m.errno = 0, 0
	for i := range m.n {
		m.hs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		m.hs[i].Hdr.Control = &m.ctrl[i].b[0]
		m.hs[i].Hdr.SetControllen(oobSize)
	}
	err := s.batch.rc.Read(m.fn)
	clear(m.iovs[:m.n]) // do not keep the caller's buffers alive
	if err == nil && m.errno != 0 {
		err = &net.OpError{Op: "read", Net: "udp", Addr: net.UDPAddrFromAddrPort(s.local), Err: os.NewSyscallError("recvmmsg", m.errno)}
	}
	return err
}

// received is header i's source, having learnt the address it was sent to
// (see srcTable), and the size of the datagrams GRO joined in it (0: one).
func (s *Socket) received(m *mmsg, i int) (netip.AddrPort, int) {
	from := m.addrFrom(&m.names[i])
	c := readControl(m.ctrl[i].b[:m.hs[i].Hdr.Controllen])
	if c.hasSource && s.srcs != nil {
		s.srcs.learn(from, c.source)
	}
	return from, c.segment
}

// WriteBatch sends every message, in order, in as few system calls as it
// can: with GSO, a run of datagrams to one address in one header.
func (s *Socket) WriteBatch(ms []Message) (int, error) {
	m := s.batch.writer()
	m.mu.Lock()
	defer m.mu.Unlock()
	sent := 0
	var first error
	note := func(err error) {
		if first == nil {
			first = err
		}
	}
	plain := 0 // messages to send one a header, as GSO was refused
	var refused syscall.Errno
	for len(ms) > 0 {
		m.n, m.done, m.skip, m.sent, m.errno, m.unpinned, m.gsoRefused = 0, 0, 0, 0, 0, 0, 0
		lim, gso := min(len(ms), maxBatch), s.batch.off.gsoOn()
		if plain > 0 {
			lim, gso = min(lim, plain), false
		}
		probing := plain > 0 && gsoBroken(refused)
		plain = 0
		taken, iov := 0, 0
		for taken < lim {
			namelen, ok := s.batch.sockaddr(&m.names[m.n], ms[taken].Addr)
			if !ok {
				break // for WriteTo, below: a zone, or the other family
			}
			run := 1
			if gso {
				run = gsoRun(ms[taken:lim])
			}
			iov = m.header(m.n, namelen, ms[taken:taken+run], iov, s.srcs)
			taken += run
			m.n++
		}
		if m.n > 0 {
			err := s.batch.rc.Write(m.fn)
			clear(m.iovs[:iov])
			moved := 0 // messages in the headers sent or refused
			for i := range m.done + m.skip {
				if m.unpinned&(1<<i) != 0 {
					s.srcs.forget(ms[moved].Addr)
				}
				moved += int(m.segs[i])
			}
			if err != nil {
				return sent + m.sent, err // closed
			}
			if m.errno != 0 {
				note(&net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(s.local), Err: os.NewSyscallError("sendmmsg", m.errno)})
			}
			if probing && m.sent > 0 {
				// What the system refused as one went as several: it
				// cannot segment here (see gsoBroken).
				s.batch.off.disableGSO()
			}
			if m.gsoRefused != 0 {
				plain, refused = int(m.segs[m.done+m.skip]), m.gsoRefused
			} else {
				moved = taken
			}
			sent += m.sent
			ms = ms[moved:]
			continue
		}
		// One the batch cannot carry: WriteTo knows zones and reports the
		// wrong family as Go does.
		if _, err := s.WriteTo(ms[0].Buf, ms[0].Addr); err != nil {
			note(err)
		} else {
			sent++
		}
		ms = ms[1:]
	}
	return sent, first
}

// header makes header h of a write: the datagrams of run, all to one
// address (already in names[h], namelen long), from iovs[iov] on, where
// datagrams that lie end to end in memory share an iovec; and its control
// messages, the segment size and the source. It returns the next free iovec.
func (m *mmsg) header(h int, namelen uint32, run []Message, iov int, srcs *srcTable) int {
	hdr := &m.hs[h].Hdr
	hdr.Namelen = namelen
	hdr.Iov = &m.iovs[iov]
	n := 0
	for _, msg := range run {
		if n > 0 && adjacent(m.iovs[iov+n-1], msg.Buf) {
			m.iovs[iov+n-1].SetLen(int(m.iovs[iov+n-1].Len) + len(msg.Buf))
			continue
		}
		m.iovs[iov+n] = iovec(msg.Buf)
		n++
	}
	hdr.SetIovlen(n)
	m.segs[h] = uint8(len(run))
	c := m.ctrl[h].b[:0]
	if len(run) > 1 {
		c = m.ctrl[h].putSegment(len(run[0].Buf))
	}
	if srcs != nil {
		if src, ok := srcs.lookup(run[0].Addr); ok {
			c = m.ctrl[h].put(len(c), src)
		}
	}
	hdr.Control, hdr.Controllen = nil, 0
	if len(c) > 0 {
		hdr.Control = &c[0]
		hdr.SetControllen(len(c))
	}
	return iov + n
}

// pinned says header i names its source.
func (m *mmsg) pinned(i int) bool {
	return int(m.hs[i].Hdr.Controllen) > m.segmentLen(i)
}

// unpin takes header i's source out, keeping its segment size.
func (m *mmsg) unpin(i int) {
	h := &m.hs[i].Hdr
	if n := m.segmentLen(i); n > 0 {
		h.SetControllen(n)
	} else {
		h.Control, h.Controllen = nil, 0
	}
}

// segmentLen is the length of header i's segment size control message,
// which comes first: 0 for a header of one datagram.
func (m *mmsg) segmentLen(i int) int {
	if m.segs[i] > 1 {
		return unix.CmsgSpace(2)
	}
	return 0
}

// adjacent says b starts where v ends, in memory.
func adjacent(v unix.Iovec, b []byte) bool {
	return len(b) > 0 && v.Base != nil &&
		uintptr(unsafe.Pointer(v.Base))+uintptr(v.Len) == uintptr(unsafe.Pointer(&b[0]))
}

func iovec(b []byte) unix.Iovec {
	var v unix.Iovec
	if len(b) > 0 {
		v.Base = &b[0]
		v.SetLen(len(b))
	}
	return v
}

// sockaddr writes a into sa in the socket's family and returns its length,
// or false if it needs what WriteTo does: a zone, or IPv6 on an IPv4 socket.
func (b *batcher) sockaddr(sa *unix.RawSockaddrInet6, a netip.AddrPort) (uint32, bool) {
	ip := a.Addr()
	if ip.Zone() != "" {
		return 0, false
	}
	if b.family == unix.AF_INET {
		ip = ip.Unmap()
		if !ip.Is4() {
			return 0, false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], a.Port())
		return unix.SizeofSockaddrInet4, true
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ip.As16()} // IPv4 as ::ffff:a.b.c.d
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], a.Port())
	return unix.SizeofSockaddrInet6, true
}

// addrFrom reads a source address recvmmsg wrote, unmapped, with the zone
// of a link-local IPv6 address named as ReadFrom names it.
func (m *mmsg) addrFrom(sa *unix.RawSockaddrInet6) netip.AddrPort {
	if sa.Family == unix.AF_INET {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	}
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	ip := netip.AddrFrom16(sa.Addr).Unmap()
	if sa.Scope_id != 0 && ip.Is6() {
		ip = ip.WithZone(m.zone(sa.Scope_id))
	}
	return netip.AddrPortFrom(ip, port)
}

// zone names interface idx, remembering the answer (a lookup allocates).
func (m *mmsg) zone(idx uint32) string {
	if z, ok := m.zones[idx]; ok {
		return z
	}
	z := ""
	if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
		z = ifi.Name
	}
	if z == "" {
		z = itoa(idx)
	}
	if m.zones == nil {
		m.zones = make(map[uint32]string)
	}
	m.zones[idx] = z
	return z
}

func itoa(u uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		if u /= 10; u == 0 {
			return string(b[i:])
		}
	}
}
