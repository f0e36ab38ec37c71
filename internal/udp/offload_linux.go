package udp

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Segmentation offload lets one system call carry many datagrams to one
// peer as one buffer: on a write, UDP_SEGMENT (GSO) has the kernel cut a run
// of equal-sized datagrams (the last may be shorter) into datagrams as late
// as it can, on loopback not at all; on a read, UDP_GRO has it hand over
// datagrams that arrived back to back from one peer as one buffer with
// their size, which ReadBatch cuts again. A burst to one peer then crosses
// the stack once instead of once a datagram. Both are Linux's (4.18 and
// 5.0), found at run time; without them, or where a path refuses GSO, the
// batch goes one datagram a header, as recvmmsg and sendmmsg move it.

// maxGSOSegments is the most datagrams the kernel takes in one GSO send
// (UDP_MAX_SEGMENTS); it is also maxBatch, so a run never spans calls.
const maxGSOSegments = 64

// maxGSOBytes bounds a run's bytes: a UDP datagram's payload, 65,535 bytes
// less the UDP and IPv6 headers, is the most the kernel segments.
const maxGSOBytes = 0xffff - 8 - 40

// groBufSize is a GRO read's buffer for one header: room for the largest
// datagram the kernel joins.
const groBufSize = 1 << 16

// groSlots is how many headers a GRO read offers: each may carry many
// datagrams, or one where nothing was joined.
const groSlots = 16

// offload is what a socket uses of GSO and GRO.
type offload struct {
	gso  atomic.Bool // UDP_SEGMENT works here, until a path refuses it
	gro  atomic.Bool // UDP_GRO is on: reads may bring joined datagrams
	none bool        // made while disableOffload was set
}

// disableOffload, when set, makes new sockets use neither, as where the
// system has no GSO or GRO (tests set it).
var disableOffload atomic.Bool

// detect asks whether the kernel knows UDP_SEGMENT: getsockopt fails with
// ENOPROTOOPT on one that does not.
func (o *offload) detect(rc syscall.RawConn) {
	if o.none = disableOffload.Load(); o.none {
		return
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
	}); err == nil && serr == nil {
		o.gso.Store(true)
	}
}

// groAfter is how many datagrams one batch read must bring for the socket
// to turn GRO on: a burst. A socket that reads a datagram at a time (a
// conversation, a handshake) never takes the 1 MiB a GRO read needs;
// handshakes/s on loopback fell to a third when every new socket did.
const groAfter = 8

// enableGRO turns UDP_GRO on, for a socket whose batch reads bring bursts
// (ReadBatch cuts what it joins; a plain read then goes through ReadBatch
// too).
func (o *offload) enableGRO(rc syscall.RawConn) {
	if o.none {
		return
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
	}); err == nil && serr == nil {
		o.gro.Store(true)
	}
}

func (o *offload) gsoOn() bool { return o.gso.Load() }

// disableGSO stops GSO on the socket: a path refused it (see gsoRefused).
func (o *offload) disableGSO() { o.gso.Store(false) }

// gsoRefused says a GSO send may have failed for being one: EIO where the
// device cannot checksum what the kernel segments, EINVAL where the socket
// or the path will not segment (a socket without checksums, IPsec, some
// kernels' IPv6), EMSGSIZE where a datagram of the run is more than the
// path's MTU, which the kernel fragments only when it is sent alone.
// WriteBatch sends such a run again one datagram a header.
func gsoRefused(err syscall.Errno) bool {
	return err == unix.EIO || err == unix.EINVAL || err == unix.EMSGSIZE
}

// gsoBroken says a refusal is the socket's, not one path's: if the run then
// goes one datagram a header, GSO is turned off for the socket. An MTU too
// small is one route's, and GSO stays for the others.
func gsoBroken(err syscall.Errno) bool {
	return err == unix.EIO || err == unix.EINVAL
}

// gsoRun is how many of ms, from the first, one GSO header carries: those to
// the first's address of its size, and one shorter to end the run, within
// the kernel's bounds.
func gsoRun(ms []Message) int {
	size := len(ms[0].Buf)
	if size == 0 {
		return 1
	}
	n, total := 1, size
	for n < min(len(ms), maxGSOSegments) && ms[n].Addr == ms[0].Addr {
		l := len(ms[n].Buf)
		if l == 0 || l > size || total+l > maxGSOBytes {
			break
		}
		n++
		total += l
		if l < size {
			break
		}
	}
	return n
}

// putSegment writes the UDP_SEGMENT control message for datagrams of size
// bytes at the start of o, and returns it.
func (o *oob) putSegment(size int) []byte {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&o.b[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&o.b[unix.CmsgLen(0)])) = uint16(size)
	return o.b[:unix.CmsgSpace(2)]
}

// groState is what a GRO read brought and ReadBatch has not yet handed
// out: header hdr of n, from byte off on, in bufs.
type groState struct {
	bufs *[groSlots][groBufSize]byte
	n    int
	hdr  int
	off  int
	lens [groSlots]int
	segs [groSlots]int // the joined datagrams' size; 0: one datagram
	from [groSlots]netip.AddrPort
}

// groBufs are the buffers of the sockets reading with GRO: a socket takes
// its 1 MiB at its first GRO read and gives it back at Close, so that one
// reading all along keeps it, and a benchmark that makes thousands of
// sockets one after the other does not make as many buffers.
var groBufs = sync.Pool{New: func() any { return new([groSlots][groBufSize]byte) }}

// readGRO is ReadBatch with GRO on: what is left of the last read, or a
// new one into groBufs, cut into datagrams.
func (s *Socket) readGRO(m *mmsg, ms []Message) (int, error) {
	g := &m.gro
	if g.hdr == g.n {
		if g.bufs == nil {
			g.bufs = groBufs.Get().(*[groSlots][groBufSize]byte)
		}
		m.n = min(len(ms), groSlots)
		for i := range m.n {
			m.iovs[i] = iovec(g.bufs[i][:])
		}
		if err := s.recv(m); err != nil {
			return 0, err
		}
		g.n, g.hdr, g.off = m.done, 0, 0
		for i := range g.n {
			g.lens[i] = int(m.hs[i].Len)
			g.from[i], g.segs[i] = s.received(m, i)
		}
	}
	return g.split(ms), nil
}

// split copies the next datagrams into ms, as many as fit, and returns how
// many.
func (g *groState) split(ms []Message) int {
	k := 0
	for k < len(ms) && g.hdr < g.n {
		data := g.bufs[g.hdr][:g.lens[g.hdr]]
		end := len(data)
		if seg := g.segs[g.hdr]; seg > 0 {
			end = min(g.off+seg, end)
		}
		ms[k].N = copy(ms[k].Buf, data[g.off:end])
		ms[k].Addr = g.from[g.hdr]
		k++
		g.off = end
		if g.off >= len(data) {
			g.hdr, g.off = g.hdr+1, 0
		}
	}
	return k
}

// readCoalesced is ReadFrom on a socket reading with GRO, where a plain read
// could get several datagrams joined; ok is false if GRO is off.
func (s *Socket) readCoalesced(b []byte) (n int, from netip.AddrPort, ok bool, err error) {
	if s.batch == nil || !s.batch.off.gro.Load() {
		return 0, netip.AddrPort{}, false, nil
	}
	one := [1]Message{{Buf: b}}
	if _, err := s.ReadBatch(one[:]); err != nil {
		return 0, netip.AddrPort{}, true, err
	}
	return one[0].N, one[0].Addr, true, nil
}

// release gives the socket's GRO buffer back, at Close: a read under way
// has returned (the socket is closed) once the lock is had.
func (b *batcher) release() {
	if b == nil {
		return
	}
	m := b.rd.Load()
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := &m.gro; g.bufs != nil {
		groBufs.Put(g.bufs)
		*g = groState{}
	}
}
