//go:build linux

package udp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
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
// address and control messages (the local address, see srcTable) per
// datagram, and the function RawConn.Read or Write runs (a closure, made
// once). mu makes calls in one direction take turns.
type mmsg struct {
	mu    sync.Mutex
	hs    [maxBatch]unix.Mmsghdr
	iovs  [maxBatch]unix.Iovec
	names [maxBatch]unix.RawSockaddrInet6 // room for either family
	ctrl  [maxBatch]oob
	n     int           // datagrams in this call
	done  int           // datagrams moved so far
	errno syscall.Errno // the call's error, if any
	skip  int           // sendmmsg: datagrams refused
	// unpinned has bit i set if sendmmsg refused datagram i's source (the
	// address is gone), and it was sent again without one.
	unpinned uint64
	fn       func(fd uintptr) bool
	zones    map[uint32]string // reads: interface index to zone name
}

// batcher is the Linux part of a Socket. Each direction's scratch space is
// made on its first use: a socket that never sends a batch (most send one
// datagram at a time) does not pay for it.
type batcher struct {
	rc             syscall.RawConn
	family         int // AF_INET or AF_INET6: what the socket is
	rdOnce, wrOnce sync.Once
	rd, wr         *mmsg
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
	s.batch = b
}

func (b *batcher) reader() *mmsg {
	b.rdOnce.Do(func() {
		b.rd = newMmsg()
		b.rd.fn = b.rd.recv
	})
	return b.rd
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

// send runs sendmmsg until every datagram has gone or been refused; false
// asks RawConn.Write to wait until the socket is writable.
func (m *mmsg) send(fd uintptr) bool {
	for m.done+m.skip < m.n {
		i := m.done + m.skip
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.hs[i])), uintptr(m.n-i), 0, 0, 0)
		switch e {
		case 0:
			m.done += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			// sendmmsg fails only for the first datagram of the call.
			if h := &m.hs[i].Hdr; h.Controllen != 0 && sourceGone(e) {
				// Its source is no longer ours: let the system pick one.
				h.Control, h.Controllen = nil, 0
				m.unpinned |= 1 << i
				continue
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
	m.n, m.done, m.errno = min(len(ms), maxBatch), 0, 0
	if m.n == 0 {
		return 0, nil
	}
	for i := range m.n {
		m.iovs[i] = iovec(ms[i].Buf)
		m.hs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		if s.srcs != nil {
			m.hs[i].Hdr.Control = &m.ctrl[i].b[0]
			m.hs[i].Hdr.SetControllen(oobSize)
		}
	}
	err := s.batch.rc.Read(m.fn)
	clear(m.iovs[:m.n]) // do not keep the caller's buffers alive
	if err == nil && m.errno != 0 {
		err = &net.OpError{Op: "read", Net: "udp", Addr: net.UDPAddrFromAddrPort(s.local), Err: os.NewSyscallError("recvmmsg", m.errno)}
	}
	if err != nil {
		return 0, err
	}
	for i := range m.done {
		ms[i].N = int(m.hs[i].Len)
		ms[i].Addr = m.addrFrom(&m.names[i])
		if s.srcs == nil {
			continue
		}
		if src, ok := parseSource(m.ctrl[i].b[:m.hs[i].Hdr.Controllen]); ok {
			s.srcs.learn(ms[i].Addr, src)
		}
	}
	return m.done, nil
}

// WriteBatch sends every message, in order, in as few system calls as it can.
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
	for len(ms) > 0 {
		m.n, m.done, m.skip, m.errno, m.unpinned = 0, 0, 0, 0, 0
		for m.n < min(len(ms), maxBatch) {
			i := m.n
			namelen, ok := s.batch.sockaddr(&m.names[i], ms[i].Addr)
			if !ok {
				break // for WriteTo, below: a zone, or the other family
			}
			m.iovs[i] = iovec(ms[i].Buf)
			h := &m.hs[i].Hdr
			h.Namelen = namelen
			h.Control, h.Controllen = nil, 0
			if s.srcs != nil {
				if src, ok := s.srcs.lookup(ms[i].Addr); ok {
					c := m.ctrl[i].put(src)
					h.Control = &c[0]
					h.SetControllen(len(c))
				}
			}
			m.n++
		}
		if m.n > 0 {
			err := s.batch.rc.Write(m.fn)
			clear(m.iovs[:m.n])
			for i := range m.n {
				if m.unpinned&(1<<i) != 0 {
					s.srcs.forget(ms[i].Addr)
				}
			}
			if err != nil {
				return sent + m.done, err // closed
			}
			if m.errno != 0 {
				note(&net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(s.local), Err: os.NewSyscallError("sendmmsg", m.errno)})
			}
			sent += m.done
			ms = ms[m.n:]
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
